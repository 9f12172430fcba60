"""The official anthropic SDK against /v1/messages: plain, streamed, errors and the ledger, for every provider."""

from __future__ import annotations

import pytest

from tests.conftest import COMPLETION_KEY, EMBEDDING_KEY
from tests.surface_fixtures import MODELS

anthropic = pytest.importorskip("anthropic")
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.mark.parametrize("provider", list(MODELS))
def test_messages_create_for_every_provider(live, claude, fakes, provider):
    raw = claude.messages.with_raw_response.create(
        model=MODELS[provider], max_tokens=200, messages=HELLO, system="Be brief.", metadata={"user_id": "alice"}
    )
    message = raw.parse()

    served = fakes[provider].served[-1]
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.model == MODELS[provider]
    assert message.content[0].type == "text" and message.content[0].text == fakes[provider].reply_text
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (served.prompt_tokens, served.completion_tokens)
    assert raw.headers["request-id"] == raw.headers["X-LLMGateway-Request-ID"]
    [row] = live.rows(1)
    assert row["endpoint"] == "anthropic_messages" and row["status_code"] == 200
    assert row["provider"] == provider and row["user"] == "alice" and row["owner"] == "Team A"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (served.prompt_tokens, served.completion_tokens)


@pytest.mark.parametrize("provider", list(MODELS))
def test_messages_stream_text_and_final_message_for_every_provider(live, claude, fakes, provider):
    fakes[provider].reply_text = "one two three four five"
    with claude.messages.stream(model=MODELS[provider], max_tokens=200, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    served = fakes[provider].served[-1]
    assert text == "one two three four five"
    assert final.content[0].text == text and final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (served.prompt_tokens, served.completion_tokens)
    [row] = live.rows(1)
    assert row["endpoint"] == "anthropic_messages_stream" and row["streamed"] is True
    assert row["completion_tokens"] == served.completion_tokens and row["status_code"] == 200


def test_max_tokens_stop_is_reported_as_max_tokens(claude, fakes):
    fakes["openai"].reply_text = "a b c d e f g h"
    message = claude.messages.create(model=MODELS["openai"], max_tokens=3, messages=HELLO)
    assert message.stop_reason == "max_tokens"


def test_errors_come_in_anthropics_shape_with_the_gateways_statuses(live, claude):
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="nosuch-model-xyz", max_tokens=10, messages=HELLO)
    assert missing.value.body["error"]["type"] == "not_found_error" and missing.value.status_code == 404

    bad_key = anthropic.Anthropic(base_url=live.url, api_key="gw_nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad_key.messages.create(model=MODELS["openai"], max_tokens=10, messages=HELLO)
    embedding_only = anthropic.Anthropic(base_url=live.url, api_key=EMBEDDING_KEY, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError):
        embedding_only.messages.create(model=MODELS["openai"], max_tokens=10, messages=HELLO)


def test_upstream_failure_is_an_api_error(claude, fakes):
    fakes["openai"].push("status", status=500, body={"error": {"message": "boom", "type": "server_error"}})
    with pytest.raises(anthropic.InternalServerError) as failed:
        claude.messages.create(model=MODELS["openai"], max_tokens=10, messages=HELLO)
    assert failed.value.status_code == 502 and failed.value.body["error"]["type"] == "api_error"


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": MODELS["openai"], "messages": HELLO}, "max_tokens"),
        (
            {
                "model": MODELS["openai"],
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "hologram", "data": "x"}]}],
            },
            "messages.0.content.0.type",
        ),
        (
            {
                "model": MODELS["openai"],
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}]}
                ],
            },
            "messages.0.content.0.tool_use_id",
        ),
    ],
)
def test_bad_input_is_a_400_before_any_upstream_call_with_one_record(live, fakes, body, param):
    import requests

    response = requests.post(
        f"{live.url}/v1/messages", json=body, headers={"x-api-key": COMPLETION_KEY, "anthropic-version": "2023-06-01"}
    )
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert param in error["error"]["message"]
    assert fakes["openai"].requests == []
    [row] = live.rows(1)
    assert row["status_code"] == 400 and row["endpoint"] == "anthropic_messages"
    assert row["model"] == MODELS["openai"] and row["prompt_tokens"] == 0


def test_count_tokens_answers_without_an_upstream_call(live, claude, fakes):
    counted = claude.messages.count_tokens(model=MODELS["anthropic"], messages=HELLO, system="Be brief.")
    assert counted.input_tokens > 0
    assert fakes["anthropic"].requests == []
    assert live.rows(0) == []


def test_x_api_key_and_bearer_both_authenticate(live):
    for auth in ({"api_key": COMPLETION_KEY}, {"auth_token": COMPLETION_KEY}):
        client = anthropic.Anthropic(base_url=live.url, max_retries=0, **auth)
        assert client.messages.create(model=MODELS["openai"], max_tokens=20, messages=HELLO).content[0].text
        client.close()
