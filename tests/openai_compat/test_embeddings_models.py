"""Embeddings and the model list through the official OpenAI SDK."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_KEY, COMPLETION_KEY, EMBEDDING_KEY
from tests.openai_compat.sdk import import_openai

openai = import_openai()


def expected_vector(index: int, dims: int) -> list[float]:
    """What the fake OpenAI answers for input `index`."""
    return [round(0.001 * (index + 1) * (d + 1), 6) for d in range(dims)]


def test_embeddings_with_the_sdk_default_base64_encoding(gateway, fake_openai):
    sdk = gateway.client(api_key=EMBEDDING_KEY)

    result = sdk.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta gamma"], dimensions=4)

    assert fake_openai.requests[-1]["json"]["encoding_format"] == "float"  # the gateway always asks for floats
    assert fake_openai.requests[-1]["json"]["dimensions"] == 4
    assert result.object == "list" and result.model == "text-embedding-3-small"
    assert [item.index for item in result.data] == [0, 1]
    for item in result.data:
        assert item.embedding == pytest.approx(expected_vector(item.index, 4), rel=1e-6)  # float32 precision
    assert result.usage.prompt_tokens == fake_openai.served[-1].prompt_tokens
    assert result.usage.total_tokens == result.usage.prompt_tokens


def test_embeddings_as_floats_and_the_ledger_record(gateway, fake_openai):
    raw = gateway.client(api_key=EMBEDDING_KEY).embeddings.with_raw_response.create(
        model="openai.text-embedding-3-small", input="alpha", encoding_format="float"
    )
    body = raw.http_response.json()

    assert set(body) == {"object", "data", "model", "usage"}
    assert body["data"] == [{"object": "embedding", "index": 0, "embedding": expected_vector(0, 3)}]
    [row] = gateway.rows(1)
    assert row["request_id"] == raw.headers["X-LLMGateway-Request-ID"]
    assert row["endpoint"] == "openai_embeddings" and row["status_code"] == 200
    assert row["prompt_tokens"] == fake_openai.served[-1].prompt_tokens


def test_token_array_input_is_refused_clearly(gateway, fake_openai):
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(api_key=EMBEDDING_KEY).embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3]])
    assert caught.value.param == "input" and "token arrays" in caught.value.message
    assert fake_openai.requests == []


def test_models_list_in_openai_shape(gateway):
    page = gateway.client(api_key=COMPLETION_KEY).models.list()

    models = {m.id: m for m in page.data}
    assert "openai.gpt-4o-mini" in models and "openai.text-embedding-3-small" in models
    model = models["openai.gpt-4o-mini"]
    assert model.object == "model" and model.owned_by == "openai" and isinstance(model.created, int)
    assert model.model_extra in (None, {})  # exactly OpenAI's fields


def test_models_retrieve_with_dots_and_slashes(make_app, serve):
    app = make_app(
        routing={
            "model_mappings": [
                {"model_id": "team/chat-default", "provider": "openai", "provider_model_id": "gpt-4o-mini"}
            ]
        }
    )
    sdk = serve(app).client(api_key=EMBEDDING_KEY)  # any valid key may read the catalogue

    assert sdk.models.retrieve("openai.gpt-4.1").owned_by == "openai"
    assert sdk.models.retrieve("gpt-4.1-mini").id == "gpt-4.1-mini"  # inferred
    mapped = sdk.models.retrieve("team/chat-default")
    assert (mapped.id, mapped.owned_by) == ("team/chat-default", "openai")
    assert "team/chat-default" in {m.id for m in sdk.models.list().data}


def test_models_routes_leave_no_usage_record(gateway):
    sdk = gateway.client(api_key=ADMIN_KEY)
    sdk.models.list()
    sdk.models.retrieve("openai.gpt-4o")
    assert gateway.rows(0) == []
