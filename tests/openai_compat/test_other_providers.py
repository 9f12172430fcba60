"""Anthropic and Cohere models reached through the official OpenAI SDK (same surface, same pipeline)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import EMBEDDING_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cohere import FakeCohere
from tests.openai_compat.sdk import import_openai

openai = import_openai()

HELLO = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hello there"}]
CLAUDE = "anthropic.claude-3-5-haiku-20241022"
COMMAND = "cohere.command-r-08-2024"


@pytest.fixture(scope="module")
def _anthropic_server() -> Iterator[Any]:
    server = FakeAnthropic().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def _cohere_server() -> Iterator[Any]:
    server = FakeCohere().start()
    yield server
    server.stop()


@pytest.fixture
def fake_anthropic(_anthropic_server: Any) -> Any:
    _anthropic_server.reset()
    return _anthropic_server


@pytest.fixture
def fake_cohere(_cohere_server: Any) -> Any:
    _cohere_server.reset()
    return _cohere_server


@pytest.fixture
def live(make_app, serve, fake_anthropic, fake_cohere):
    return serve(
        make_app(
            providers={
                "anthropic": {"api_key": fake_anthropic.api_key, "base_url": fake_anthropic.url},
                "cohere": {"api_key": fake_cohere.api_key, "base_url": fake_cohere.url},
            }
        )
    )


def test_an_anthropic_model_through_the_sdk(live, fake_anthropic):
    completion = live.client().chat.completions.create(model=CLAUDE, messages=HELLO, max_tokens=50)

    assert completion.model == CLAUDE
    assert completion.choices[0].message.content == fake_anthropic.reply_text
    assert completion.choices[0].finish_reason == "stop"  # end_turn in OpenAI's words
    served = fake_anthropic.served[-1]
    assert completion.usage.completion_tokens == served.completion_tokens
    sent = fake_anthropic.requests[-1]["json"]
    assert sent["model"] == "claude-3-5-haiku-20241022" and sent["max_tokens"] == 50
    [row] = live.rows(1)
    assert row["endpoint"] == "openai_chat" and row["provider"] == "anthropic"


def test_an_anthropic_stream_with_usage_through_the_sdk(live, fake_anthropic):
    chunks = list(
        live.client().chat.completions.create(
            model=CLAUDE, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == fake_anthropic.reply_text
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == fake_anthropic.served[-1].completion_tokens


def test_openai_only_fields_are_refused_for_anthropic(live, fake_anthropic):
    with pytest.raises(openai.BadRequestError) as caught:
        live.client().chat.completions.create(model=CLAUDE, messages=HELLO, seed=3)
    assert caught.value.param == "seed" and "anthropic" in caught.value.message
    assert fake_anthropic.requests == []


def test_a_cohere_model_through_the_sdk(live, fake_cohere):
    completion = live.client().chat.completions.create(model=COMMAND, messages=HELLO)

    assert completion.model == COMMAND
    assert completion.choices[0].message.content == fake_cohere.reply_text
    assert completion.choices[0].finish_reason == "stop"
    [row] = live.rows(1)
    assert row["provider"] == "cohere" and row["status_code"] == 200


def test_cohere_embeddings_through_the_sdk(live, fake_cohere):
    result = live.client(api_key=EMBEDDING_KEY).embeddings.create(
        model="cohere.embed-english-v3.0", input=["alpha", "beta"], extra_body={"input_type": "search_query"}
    )

    assert [item.index for item in result.data] == [0, 1]
    assert all(len(item.embedding) > 0 for item in result.data)
    assert fake_cohere.requests[-1]["json"]["input_type"] == "search_query"
    [row] = live.rows(1)
    assert row["endpoint"] == "openai_embeddings" and row["provider"] == "cohere"
