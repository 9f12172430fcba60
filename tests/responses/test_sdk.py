"""The official openai SDK against /v1/responses: create, stream, store, previous_response_id, GET/DELETE, errors."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import ADMIN_KEY, COMPLETION_KEY
from tests.openai_compat.sdk import import_openai
from tests.surface_fixtures import MODELS

openai = import_openai()


@pytest.mark.parametrize("provider", list(MODELS))
def test_responses_create_for_every_provider(live, sdk, fakes, provider):
    raw = sdk.responses.with_raw_response.create(
        model=MODELS[provider], input="hello there", instructions="Be brief.", max_output_tokens=200
    )
    response = raw.parse()

    served = fakes[provider].served[-1]
    assert response.object == "response" and response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text == fakes[provider].reply_text and response.model == MODELS[provider]
    assert response.instructions == "Be brief." and response.max_output_tokens == 200
    assert (response.usage.input_tokens, response.usage.output_tokens) == (
        served.prompt_tokens,
        served.completion_tokens,
    )
    assert raw.headers["X-LLMGateway-Provider"] == provider
    [row] = live.rows(1)
    assert row["endpoint"] == "responses" and row["status_code"] == 200 and row["provider"] == provider
    assert (row["prompt_tokens"], row["completion_tokens"]) == (served.prompt_tokens, served.completion_tokens)


@pytest.mark.parametrize("provider", list(MODELS))
def test_responses_stream_for_every_provider(live, sdk, fakes, provider):
    fakes[provider].reply_text = "one two three four"
    with sdk.responses.stream(model=MODELS[provider], input="hello there") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()

    served = fakes[provider].served[-1]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") >= 1
    assert final.output_text == "one two three four" and final.status == "completed"
    assert final.usage.output_tokens == served.completion_tokens
    [row] = live.rows(1)
    assert row["endpoint"] == "responses_stream" and row["streamed"] is True and row["status_code"] == 200
    assert sdk.responses.retrieve(final.id).output_text == final.output_text  # a streamed answer is stored too


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_previous_response_id_continues_the_stored_conversation(sdk, fakes, provider):
    first = sdk.responses.create(model=MODELS[provider], input="My name is Ada.", instructions="Be brief.")
    second = sdk.responses.create(model=MODELS[provider], input="What is my name?", previous_response_id=first.id)

    assert second.previous_response_id == first.id
    sent = fakes[provider].requests[-1]["json"]
    if provider == "openai":  # OpenAI's own Responses API gets the conversation spelled out as items
        assert [(item.get("role"), item["type"]) for item in sent["input"]] == [
            ("user", "message"),
            ("assistant", "message"),
            ("user", "message"),
        ]
        assert sent["input"][1]["content"][0]["text"] == first.output_text
        assert "instructions" not in sent and "previous_response_id" not in sent
    else:
        assert sent["messages"] == [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": "What is my name?"},
        ]
        assert "system" not in sent  # instructions are not carried over


def test_store_false_keeps_nothing(sdk):
    response = sdk.responses.create(model=MODELS["openai"], input="hi", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model=MODELS["openai"], input="again", previous_response_id=response.id)


def test_a_stored_response_is_invisible_to_another_key_owner(live, sdk, fakes):
    """S12: another owner's GET, DELETE and previous_response_id are the same 404 as an unknown id."""
    mine = sdk.responses.create(model=MODELS["openai"], input="secret plans")
    other = live.client(ADMIN_KEY)  # owner "Admin Team": an admin of another owner is still another owner
    answers = []
    for attempt in (
        lambda rid: other.responses.retrieve(rid),
        lambda rid: other.responses.delete(rid),
        lambda rid: other.responses.create(model=MODELS["openai"], input="x", previous_response_id=rid),
    ):
        for rid in (mine.id, "resp_doesnotexist"):
            with pytest.raises(openai.NotFoundError) as caught:
                attempt(rid)
            answers.append(caught.value.body["message"].replace(rid, "<id>"))
    assert len(set(answers)) <= 2  # the foreign id reads exactly like an unknown one
    assert "secret" not in " ".join(answers)
    assert sdk.responses.retrieve(mine.id).output_text == mine.output_text  # still there for its owner
    upstream_calls = len(fakes["openai"].requests)
    assert upstream_calls == 1  # the refused continuation never reached the upstream


def test_delete_then_get_is_404(sdk):
    response = sdk.responses.create(model=MODELS["openai"], input="hi")
    sdk.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(response.id)


@pytest.mark.parametrize(
    "body, status, param",
    [
        ({"model": MODELS["openai"], "input": [{"type": "item_reference", "id": "x"}]}, 400, "input.0.type"),
        (
            {
                "model": MODELS["openai"],
                "input": [{"type": "function_call_output", "call_id": "call_9", "output": "1"}],
            },
            400,
            "input.0.call_id",
        ),
        (
            {"model": MODELS["openai"], "input": "x", "previous_response_id": "resp_missing"},
            404,
            "previous_response_id",
        ),
    ],
)
def test_bad_input_is_refused_before_any_upstream_call_with_one_record(live, fakes, body, status, param):
    response = requests.post(
        f"{live.url}/v1/responses", json=body, headers={"Authorization": f"Bearer {COMPLETION_KEY}"}
    )
    assert response.status_code == status
    assert response.json()["error"]["param"] == param
    assert fakes["openai"].requests == []
    [row] = live.rows(1)
    assert row["status_code"] == status and row["endpoint"] == "responses" and row["model"] == MODELS["openai"]


def test_openapi_documents_both_surfaces(client):
    paths = client.get("/openapi.json").json["paths"]
    assert {"/v1/messages", "/v1/messages/count_tokens", "/v1/responses", "/v1/responses/{response_id}"} <= set(paths)
    assert set(paths["/v1/responses/{response_id}"]) >= {"get", "delete"}
    streamed = paths["/v1/messages"]["post"]["responses"]["200"]["content"]
    assert {"application/json", "text/event-stream"} <= set(streamed)
