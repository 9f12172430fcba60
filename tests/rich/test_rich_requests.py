"""Images, JSON output, capabilities, bad input and cache replay of rich answers, end to end through the gateway."""

from __future__ import annotations

import base64
import json
import socket
import threading

import pytest

from tests.conftest import ledger_rows
from tests.openai_compat.sdk import import_openai
from tests.rich.conftest import ASK, MODELS, TOOLS, assemble, post, sse_chunks

openai = import_openai()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp_c": {"type": "integer"}},
    "required": ["city", "temp_c"],
    "additionalProperties": False,
}
JSON_FORMAT = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}


def image_message(url: str, text: str = "What is in this picture?") -> dict:
    return {
        "role": "user",
        "content": [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url, "detail": "low"}}],
    }


# -- images ------------------------------------------------------------------------------------------------
def test_images_reach_anthropic_and_cohere_in_their_formats(live, fakes):
    sdk = live.client()
    for model in ("anthropic.claude-sonnet-4-5-20250929", "cohere.command-a-vision-07-2025"):
        answer = sdk.chat.completions.create(model=model, messages=[image_message(PNG_URI)])
        assert answer.choices[0].message.content.endswith("(saw 1 images)")
    [block] = [b for b in fakes["anthropic"].requests[-1]["json"]["messages"][0]["content"] if b["type"] == "image"]
    assert block == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
    }
    parts = fakes["cohere"].requests[-1]["json"]["messages"][0]["content"]
    assert parts[1] == {"type": "image_url", "image_url": {"url": PNG_URI, "detail": "low"}}


def test_the_gateway_never_fetches_an_image_url(live, fakes):
    """S15: an image URL pointing at a loopback listener is passed on as a URL; the listener sees no connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/cat.png"
    try:
        for model in ("anthropic.claude-sonnet-4-5-20250929", "cohere.command-a-vision-07-2025", "openai.gpt-4o"):
            response = post(live, "/v1/chat/completions", {"model": model, "messages": [image_message(url)]})
            assert response.status_code == 200, response.text
    finally:
        stop.set()
        watcher.join(2)
        listener.close()
    assert accepted == []
    sent = fakes["anthropic"].requests[-1]["json"]["messages"][0]["content"][1]
    assert sent["source"] == {"type": "url", "url": url}


# -- JSON output -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [*MODELS.values(), "anthropic.claude-3-5-haiku-20241022"])
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_json_schema_answers_are_json_text_from_every_provider(live, model, streamed):
    sdk = live.client()
    ask = [{"role": "user", "content": "The weather in Paris as JSON"}]
    if streamed:
        chunks = [
            c.model_dump()
            for c in sdk.chat.completions.create(model=model, messages=ask, response_format=JSON_FORMAT, stream=True)
        ]
        _calls, _firsts, finish, text = assemble(chunks)
    else:
        answer = sdk.chat.completions.create(model=model, messages=ask, response_format=JSON_FORMAT)
        text, finish = answer.choices[0].message.content, answer.choices[0].finish_reason
    assert json.loads(text) == {"city": "Paris", "temp_c": 17} and finish == "stop"


# -- capabilities ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"model": "anthropic.claude-3-5-haiku-20241022", "messages": [image_message(PNG_URI)]},
            "messages.0.content.1",
        ),
        ({"model": "cohere.command-a-vision-07-2025", "messages": ASK, "tools": TOOLS}, "tools"),
        ({"model": "openai.gpt-4", "messages": ASK, "response_format": JSON_FORMAT}, "response_format"),
    ],
)
def test_a_capability_the_model_lacks_is_refused_before_any_upstream_call(live, fakes, body, param):
    response = post(live, "/v1/chat/completions", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_operation" and response.json()["error"]["param"] == param
    assert all(not fake.requests for fake in fakes.values())
    [row] = live.rows(1)
    assert row["status_code"] == 400 and row["error_code"] == "unsupported_operation"


def test_unknown_models_are_assumed_capable(live, fakes):
    response = post(
        live, "/v1/chat/completions", {"model": "anthropic.claude-future-9", "messages": [image_message(PNG_URI)]}
    )
    assert response.status_code == 200, response.text
    assert fakes["anthropic"].requests[-1]["json"]["model"] == "claude-future-9"


def test_fallbacks_skip_routes_that_cannot_serve_the_request(make_app, fakes):
    from tests.conftest import all_providers_config
    from tests.openai_compat.conftest import LiveGateway

    rules = [
        {
            "model_id": "anthropic.claude-sonnet-4-5-20250929",
            "fallback_models": ["cohere.command-a-03-2025", "openai.gpt-4o"],
            "error_codes": ["server_error"],
        }
    ]
    app = make_app(providers=all_providers_config(fakes["openai"], fakes), fallbacks={"enabled": True, "rules": rules})
    gateway = LiveGateway(app)
    try:
        fakes["anthropic"].push(
            "status", status=500, body={"type": "error", "error": {"type": "api_error", "message": "boom"}}
        )
        response = post(
            gateway,
            "/api/v1/completion",
            {"model": "anthropic.claude-sonnet-4-5-20250929", "messages": [image_message(PNG_URI)]},
        )
    finally:
        gateway.stop()
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "openai.gpt-4o" and response.json()["fallback_from"]
    assert fakes["cohere"].requests == []  # command-a has no vision: skipped, never called


# -- bad input ---------------------------------------------------------------------------------------------
def _call(call_id: str = "call_1", arguments: object = '{"city": "Paris"}') -> dict:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
        ],
    }


BIG_PNG_URI = "data:image/png;base64," + base64.b64encode(PNG + b"\x00" * (5 * 1024 * 1024 + 1)).decode()
BAD_INPUT = {
    "malformed tool schema": (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
        "tools.0.function.parameters",
    ),
    "tool_call_id of no earlier call": (
        {"messages": [*ASK, _call(), {"role": "tool", "tool_call_id": "call_2", "content": "x"}]},
        "messages.3.tool_call_id",
    ),
    "arguments not a JSON string": (
        {"messages": [*ASK, _call(arguments={"city": "Paris"})]},
        "messages.2.tool_calls.0.function.arguments",
    ),
    "arguments not JSON": (
        {"messages": [*ASK, _call(arguments="{city")]},
        "messages.2.tool_calls.0.function.arguments",
    ),
    "data URI not base64": (
        {"messages": [image_message("data:image/png;base64,***")]},
        "messages.0.content.1.image_url.url",
    ),
    "bytes not the claimed type": (
        {"messages": [image_message("data:image/png;base64," + base64.b64encode(JPEG).decode())]},
        "messages.0.content.1.image_url.url",
    ),
    "image over the provider's limit": ({"messages": [image_message(BIG_PNG_URI)]}, "messages.0.content.1"),
    "more than 128 tools": (
        {"tools": [{"type": "function", "function": {"name": f"f{i}"}} for i in range(129)]},
        "tools",
    ),
}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/v1/completion", "/api/v1/completion/stream"])
@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_rich_input_is_a_400_naming_the_place_with_one_usage_record(live, fakes, case, path):
    fields, param = BAD_INPUT[case]
    body = {"model": "anthropic.claude-sonnet-4-5-20250929", "messages": ASK, **fields}
    response = post(live, path, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", param), error
    assert fakes["anthropic"].requests == []
    [row] = live.rows(1)
    assert row["status_code"] == 400 and row["prompt_tokens"] == 0


# -- cache -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cached_answers_replay_tool_calls_exactly(live, fakes, provider):
    body = {"model": MODELS[provider], "messages": ASK, "tools": TOOLS, "temperature": 0}
    first = post(live, "/api/v1/completion", body).json()
    hit = post(live, "/api/v1/completion", body).json()
    assert hit["cached"] is True and len(fakes[provider].requests) == 1
    assert hit["choices"] == first["choices"] and first["choices"][0]["finish_reason"] == "tool_calls"

    streamed_body = {**body, "messages": [*ASK, {"role": "user", "content": "again"}]}
    fresh = assemble(sse_chunks(post(live, "/api/v1/completion/stream", streamed_body)))
    replayed = post(live, "/api/v1/completion/stream", streamed_body)
    assert replayed.headers["X-LLMGateway-Cache"] == "HIT"
    replay = assemble(sse_chunks(replayed))
    assert replay[0] == fresh[0] and replay[2] == "tool_calls" and replay[1] == [0, 1]
    assert len(fakes[provider].requests) == 2
    assert [c.arguments for c in fresh[0]] == [c.arguments for c in fakes[provider].plans[-1].calls]
    assert len(ledger_rows(live.app)) == 4


def test_images_count_toward_the_estimate_when_the_provider_reports_no_usage(live, fakes):
    fakes["huggingface"].stream_usage = False  # an upstream provider that ignores include_usage
    body = {"model": "huggingface.Qwen/Qwen2.5-VL-7B-Instruct", "messages": [image_message(PNG_URI)]}
    chunks = sse_chunks(post(live, "/api/v1/completion/stream", body))
    usage = chunks[-1]["usage"]
    assert usage["estimated"] is True and usage["prompt_tokens"] >= 85  # a low-detail image's fixed estimate
    [row] = live.rows(1)
    assert row["prompt_tokens"] == usage["prompt_tokens"]
