"""`n` > 1 and `logprobs`: passed through to OpenAI-compatible providers and relayed; 400 for the others."""

from __future__ import annotations

import pytest

from tests.openai_compat.sdk import import_openai
from tests.rich.conftest import MODELS, post

openai = import_openai()
ASK = [{"role": "user", "content": "Say hello"}]


@pytest.mark.parametrize("provider", ["openai", "huggingface"])
def test_several_choices_with_logprobs_come_back(live, fakes, provider):
    answer = live.client().chat.completions.create(model=MODELS[provider], messages=ASK, n=2, logprobs=True)
    sent = fakes[provider].requests[-1]["json"]
    assert sent["n"] == 2 and sent["logprobs"] is True
    if provider == "huggingface":  # the fake router answers one choice without logprobs, like many providers
        assert len(answer.choices) == 1
        return
    assert [c.index for c in answer.choices] == [0, 1]
    assert {c.message.content for c in answer.choices} == {fakes["openai"].reply_text}
    tokens = [t.token for t in answer.choices[1].logprobs.content]
    assert " ".join(tokens) == fakes["openai"].reply_text


def test_several_streamed_choices_keep_their_indexes(live, fakes):
    stream = live.client().chat.completions.create(
        model=MODELS["openai"], messages=ASK, n=2, logprobs=True, stream=True
    )
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
            if choice.delta.content:
                assert choice.logprobs.content[0].token == choice.delta.content
    assert texts == {0: fakes["openai"].reply_text, 1: fakes["openai"].reply_text}
    assert finishes == {0: "stop", 1: "stop"}


@pytest.mark.parametrize(("field", "value"), [("n", 2), ("logprobs", True), ("top_logprobs", 3)])
@pytest.mark.parametrize("provider", ["anthropic", "cohere"])
def test_other_providers_refuse_them_before_any_upstream_call(live, fakes, provider, field, value):
    response = post(live, "/v1/chat/completions", {"model": MODELS[provider], "messages": ASK, field: value})
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == ("invalid_request", field)
    assert fakes[provider].requests == []
    assert live.rows(1)[0]["status_code"] == 400
