"""The Anthropic surface shares the one pipeline: a fallback from Anthropic to OpenAI, and the key's rate limit."""

from __future__ import annotations

import pytest

from tests.conftest import COMPLETION_KEY, all_providers_config
from tests.surface_fixtures import MODELS

anthropic = pytest.importorskip("anthropic")
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.mark.parametrize("stream", [False, True])
def test_a_native_request_falls_back_from_anthropic_to_openai(make_app, serve, fake_openai, fakes, stream):
    rule = {"model_id": MODELS["anthropic"], "fallback_models": [MODELS["openai"]]}
    app = make_app(
        providers=all_providers_config(fake_openai, fakes),
        fallbacks={"enabled": True, "rules": [rule]},
        circuit_breaker={"enabled": False},
    )
    live = serve(app)
    client = anthropic.Anthropic(base_url=live.url, api_key=COMPLETION_KEY, max_retries=0)
    fakes["anthropic"].push(
        "status", status=529, body={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    thinking = {"type": "enabled", "budget_tokens": 1024}
    if stream:
        with client.messages.stream(
            model=MODELS["anthropic"], max_tokens=500, messages=HELLO, thinking=thinking
        ) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(model=MODELS["anthropic"], max_tokens=500, messages=HELLO, thinking=thinking)

    # OpenAI got the translated request (no Anthropic-only field) and its answer came back in Anthropic's shape
    assert "thinking" not in fake_openai.requests[-1]["json"]
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == fake_openai.reply_text and message.model == MODELS["openai"]
    [row] = live.rows(1)
    assert row["provider"] == "openai" and row["fallback_from"] == MODELS["anthropic"]
    client.close()


def test_the_keys_rate_limit_holds_and_answers_in_anthropics_shape(make_app, serve, fake_openai, fakes):
    app = make_app(
        providers=all_providers_config(fake_openai, fakes), rate_limits={"enabled": True, "default": "2/hour"}
    )
    live = serve(app)
    client = anthropic.Anthropic(base_url=live.url, api_key=COMPLETION_KEY, max_retries=0)
    for _ in range(2):
        client.messages.create(model=MODELS["openai"], max_tokens=20, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model=MODELS["openai"], max_tokens=20, messages=HELLO)
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    assert limited.value.response.headers.get("Retry-After")
    assert len(fake_openai.requests) == 2
    assert [r["status_code"] for r in live.rows(3)] == [200, 200, 429]  # the refusal is recorded too
    client.close()
