"""Chat completions through the official OpenAI SDK: plain, streamed (with and without usage), passthrough, ledger."""

from __future__ import annotations

import json

import requests

from tests.conftest import COMPLETION_KEY
from tests.openai_compat.sdk import import_openai
from tests.sse import sse_events

openai = import_openai()

MODEL = "openai.gpt-4o-mini"
HELLO = [{"role": "user", "content": "hello there"}]


def test_chat_completion_in_openai_exact_shape(gateway, sdk, fake_openai):
    raw = sdk.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    completion = raw.parse()

    body = json.loads(raw.text)
    assert set(body) == {"id", "object", "created", "model", "choices", "usage"}  # no gateway fields in the body
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == fake_openai.reply_text
    assert completion.choices[0].finish_reason == "stop"
    served = fake_openai.served[-1]
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        served.prompt_tokens,
        served.completion_tokens,
    )
    assert raw.headers["X-LLMGateway-Provider"] == "openai"
    assert raw.headers["X-LLMGateway-Model"] == "gpt-4o-mini"
    assert raw.headers["X-LLMGateway-Request-ID"]


def test_chat_is_recorded_once_as_openai_chat(gateway, sdk, fake_openai):
    raw = sdk.chat.completions.with_raw_response.create(
        model=MODEL, messages=HELLO, user="alice", extra_body={"metadata": {"ticket": "T-1"}}
    )

    [row] = gateway.rows(1)
    served = fake_openai.served[-1]
    assert row["request_id"] == raw.headers["X-LLMGateway-Request-ID"]
    assert row["endpoint"] == "openai_chat" and row["streamed"] is False
    assert row["model"] == MODEL and row["provider"] == "openai" and row["provider_model"] == "gpt-4o-mini"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (served.prompt_tokens, served.completion_tokens)
    assert row["user"] == "alice" and row["owner"] == "Team A"
    assert row["cost_usd"] > 0 and row["status_code"] == 200
    assert "metadata" not in fake_openai.requests[-1]["json"]  # ledger metadata is never forwarded


def test_stream_with_include_usage_ends_with_the_usage_chunk(gateway, sdk, fake_openai):
    fake_openai.reply_text = "one two three four five six"
    stream = sdk.chat.completions.create(
        model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    assert "provider" not in (chunks[0].model_extra or {})  # OpenAI's chunk shape, no gateway fields
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == fake_openai.reply_text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    served = fake_openai.served[-1]
    assert last.choices == []
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (served.prompt_tokens, served.completion_tokens)
    assert all(c.usage is None for c in chunks[:-1])
    [row] = gateway.rows(1)
    assert row["endpoint"] == "openai_chat_stream" and row["streamed"] is True
    assert row["completion_tokens"] == served.completion_tokens and row["tokens_estimated"] is False


def test_stream_without_include_usage_has_no_usage_chunk_but_the_ledger_has_real_tokens(gateway, sdk, fake_openai):
    chunks = list(sdk.chat.completions.create(model=MODEL, messages=HELLO, stream=True))

    assert chunks and all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == fake_openai.reply_text
    # The gateway still asks the upstream for usage, so the record holds what the provider billed.
    assert fake_openai.requests[-1]["json"]["stream_options"] == {"include_usage": True}
    [row] = gateway.rows(1)
    assert row["endpoint"] == "openai_chat_stream"
    assert row["completion_tokens"] == fake_openai.served[-1].completion_tokens and row["tokens_estimated"] is False


def test_raw_stream_is_sse_ending_with_done(gateway, fake_openai):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": MODEL, "messages": HELLO, "stream": True},
        headers={"Authorization": f"Bearer {COMPLETION_KEY}"},
        timeout=10,
    )
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert {json.loads(e)["object"] for e in events[:-1]} == {"chat.completion.chunk"}


def test_openai_fields_are_passed_through_to_openai(gateway, sdk, fake_openai):
    completion = sdk.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        response_format={"type": "json_object"},
        logit_bias={"50256": -100},
        max_completion_tokens=3,
        temperature=0.3,
        top_p=0.9,
        stop=["END"],
        n=1,
    )

    sent = fake_openai.requests[-1]["json"]
    assert sent["seed"] == 7 and sent["presence_penalty"] == 0.5 and sent["frequency_penalty"] == 0.25
    assert sent["response_format"] == {"type": "json_object"} and sent["logit_bias"] == {"50256": -100}
    assert sent["max_completion_tokens"] == 3 and sent["temperature"] == 0.3 and sent["top_p"] == 0.9
    assert sent["stop"] == ["END"] and "n" not in sent
    assert completion.choices[0].message.content == "{}"  # the fake answers JSON mode with JSON text


def test_unknown_field_reaches_openai_and_its_verdict_comes_back(gateway, sdk, fake_openai):

    try:
        sdk.chat.completions.create(model=MODEL, messages=HELLO, extra_body={"not_a_real_field": 1})
    except openai.BadRequestError as exc:
        assert "not_a_real_field" in exc.message
        assert exc.code == "invalid_request"
    else:
        raise AssertionError("the upstream's 400 was not relayed")
    assert "not_a_real_field" in fake_openai.requests[-1]["json"]


def test_developer_role_and_text_parts_are_understood(gateway, sdk, fake_openai):
    sdk.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "again"},
        ],
    )

    assert fake_openai.requests[-1]["json"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first\nsecond"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "again"},
    ]


def test_a_jwt_works_as_the_sdk_api_key(gateway, fake_openai):
    token = requests.post(f"{gateway.url}/api/v1/auth/token", headers={"X-API-Key": COMPLETION_KEY}, timeout=10).json()[
        "access_token"
    ]

    completion = gateway.client(api_key=token).chat.completions.create(model=MODEL, messages=HELLO)

    assert completion.choices[0].message.content == fake_openai.reply_text


def test_a_mapped_model_id_with_a_slash_routes(make_app, serve, fake_openai):
    app = make_app(
        routing={
            "model_mappings": [
                {"model_id": "team/chat-default", "provider": "openai", "provider_model_id": "gpt-4.1-mini"}
            ]
        }
    )
    sdk = serve(app).client()

    completion = sdk.chat.completions.create(model="team/chat-default", messages=HELLO)

    assert completion.model == "team/chat-default"
    assert fake_openai.requests[-1]["json"]["model"] == "gpt-4.1-mini"
