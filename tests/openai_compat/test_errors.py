"""Every failure reaches the SDK in OpenAI's error envelope, as the exception class OpenAI users already catch."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ADMIN_KEY, EMBEDDING_KEY
from tests.fakes.openai import FakeOpenAI, openai_error
from tests.openai_compat.sdk import import_openai

openai = import_openai()

MODEL = "openai.gpt-4o-mini"
HELLO = [{"role": "user", "content": "hello there"}]


def test_bad_key_is_authentication_error(gateway, fake_openai):
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.client(api_key="gw_live_nothere0_not-a-real-key").chat.completions.create(model=MODEL, messages=HELLO)
    error = caught.value
    assert error.status_code == 401 and error.code == "invalid_api_key" and error.type == "authentication_error"
    assert error.body["request_id"] == error.response.headers["X-LLMGateway-Request-ID"]
    assert fake_openai.requests == []


def test_forged_jwt_is_authentication_error(gateway):
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.client(api_key=forged).models.list()
    assert caught.value.code == "invalid_token"


def test_embedding_only_key_on_chat_is_permission_denied_and_recorded(gateway, fake_openai):
    with pytest.raises(openai.PermissionDeniedError) as caught:
        gateway.client(api_key=EMBEDDING_KEY).chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.status_code == 403 and caught.value.code == "permission_denied"
    assert fake_openai.requests == []
    [row] = gateway.rows(1)
    assert row["endpoint"] == "openai_chat" and row["status_code"] == 403 and row["total_tokens"] == 0


def test_completion_key_on_embeddings_is_permission_denied(gateway):
    with pytest.raises(openai.PermissionDeniedError):
        gateway.client().embeddings.create(model="text-embedding-3-small", input="x")


def test_unknown_model_is_not_found(gateway, sdk, fake_openai):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="no-such-family-xyz", messages=HELLO)
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("no-such-family-xyz")
    assert fake_openai.requests == []


def test_upstream_rate_limit_is_rate_limit_error_with_retry_after(gateway, sdk, fake_openai):
    fake_openai.push(
        "status",
        status=429,
        headers={"retry-after": "7"},
        body=openai_error("Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded"),
    )
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.code == "rate_limit_exceeded" and caught.value.type == "rate_limit_error"
    assert caught.value.response.headers["Retry-After"] == "7"
    [row] = gateway.rows(1)
    assert row["status_code"] == 429 and row["error_code"] == "rate_limit_exceeded"


def test_the_sdk_retries_a_gateway_429_by_itself_and_succeeds(gateway, fake_openai):
    fake_openai.push(
        "status",
        status=429,
        headers={"retry-after": "1"},
        body=openai_error("Rate limit reached", "requests", "rate_limit_exceeded"),
    )
    sdk = gateway.client(max_retries=1)

    started = time.monotonic()
    completion = sdk.chat.completions.create(model=MODEL, messages=HELLO)

    assert completion.choices[0].message.content == fake_openai.reply_text
    assert len(fake_openai.requests) == 2
    assert time.monotonic() - started >= 0.9  # it honoured the gateway's Retry-After: 1


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 0}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
            "tools.0.function.parameters",
        ),
        ({"n": 129}, "n"),
        ({"extra_body": {"api_base": "http://attacker.example/v1"}}, "api_base"),
        ({"extra_body": {"base_url": "http://attacker.example/v1"}}, "base_url"),
        ({"extra_body": {"extra_headers": {"Authorization": "x"}}}, "extra_headers"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "tool", "tool_call_id": "call_1", "content": "42"},
                ]
            },
            "messages.1.tool_call_id",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            "messages.0.content.0.image_url.url",
        ),
        ({"messages": [{"role": "narrator", "content": "hi"}]}, "messages.0.role"),
        ({"messages": []}, "messages"),
    ],
)
def test_invalid_requests_are_bad_request_naming_the_param(gateway, sdk, fake_openai, kwargs, param):
    arguments = {"model": MODEL, "messages": HELLO, **kwargs}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(**arguments)
    assert caught.value.code == "invalid_request" and caught.value.type == "invalid_request_error"
    assert caught.value.param == param
    assert param.split(".")[0] in caught.value.message
    assert fake_openai.requests == []
    [row] = gateway.rows(1)
    assert row["endpoint"] == "openai_chat" and row["status_code"] == 400


def test_upstream_500_is_internal_server_error_502(gateway, sdk, fake_openai):
    fake_openai.push("status", status=500, body=openai_error("The server had an error", "server_error"))
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.status_code == 502 and caught.value.code == "server_error"
    [row] = gateway.rows(1)
    assert row["status_code"] == 502 and row["error_code"] == "server_error"


def test_upstream_500_before_a_stream_is_an_http_error_not_a_stream(gateway, sdk, fake_openai):
    fake_openai.push("status", status=500, body=openai_error("boom", "server_error"))
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    assert caught.value.status_code == 502
    [row] = gateway.rows(1)
    assert row["endpoint"] == "openai_chat_stream" and row["status_code"] == 502


def test_failure_mid_stream_raises_api_error_with_the_gateway_code(gateway, sdk, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))
    fake_openai.push("error_event", after=3)

    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in sdk.chat.completions.create(model=MODEL, messages=HELLO, stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert caught.value.code == "server_error"
    assert "".join(received) == "w0 w1 w2"
    [row] = gateway.rows(1)
    assert row["status_code"] == 502 and row["completion_tokens"] > 0


def test_upstream_timeout_is_504_which_the_sdk_raises_as_internal_server_error(make_app, serve, fake_openai):
    app = make_app(
        providers={"openai": {"api_key": FakeOpenAI.api_key, "base_url": fake_openai.url + "/v1", "timeout": 0.5}}
    )
    sdk = serve(app).client()
    fake_openai.push("silence", seconds=3)

    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.status_code == 504 and caught.value.code == "timeout"


def test_the_sdks_own_timeout_is_api_timeout_error(gateway, fake_openai):
    fake_openai.push("delay", seconds=2)
    sdk = gateway.client(timeout=0.5)

    with pytest.raises(openai.APITimeoutError):
        sdk.chat.completions.create(model=MODEL, messages=HELLO)


def test_unknown_route_under_v1_is_not_found(gateway):
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.client(api_key=ADMIN_KEY).completions.create(model=MODEL, prompt="legacy")
    assert caught.value.code == "not_found"
