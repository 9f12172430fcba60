"""Tool use through /v1/messages for OpenAI and Anthropic models; Anthropic's own blocks passed through untouched."""

from __future__ import annotations

import pytest

from tests.fakes.anthropic import THINKING
from tests.surface_fixtures import MODELS

anthropic = pytest.importorskip("anthropic")
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ASK = [{"role": "user", "content": "Weather in Paris and London?"}]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_tool_use_round_trip(live, claude, fakes, provider):
    first = claude.messages.create(model=MODELS[provider], max_tokens=200, messages=ASK, tools=[WEATHER])

    uses = [block for block in first.content if block.type == "tool_use"]
    produced = fakes[provider].plans[-1].calls
    assert first.stop_reason == "tool_use"
    assert [(u.id, u.name) for u in uses] == [(c.id, c.name) for c in produced]
    assert [u.input for u in uses] == [{"city": "Paris"}, {"city": "London"}]

    results = [{"type": "tool_result", "tool_use_id": u.id, "content": f"{u.input['city']}: 17C"} for u in uses]
    final = claude.messages.create(
        model=MODELS[provider],
        max_tokens=200,
        tools=[WEATHER],
        messages=[*ASK, {"role": "assistant", "content": first.content}, {"role": "user", "content": results}],
    )
    assert final.stop_reason == "end_turn"
    assert final.content[0].text == "Results: Paris: 17C | London: 17C"
    rows = live.rows(2)
    assert [r["endpoint"] for r in rows] == ["anthropic_messages"] * 2 and all(r["status_code"] == 200 for r in rows)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_streamed_tool_use_reaches_the_sdk_as_blocks(claude, fakes, provider):
    with claude.messages.stream(model=MODELS[provider], max_tokens=200, messages=ASK, tools=[WEATHER]) as stream:
        final = stream.get_final_message()

    uses = [block for block in final.content if block.type == "tool_use"]
    assert final.stop_reason == "tool_use"
    assert [(u.id, u.input) for u in uses] == [
        (c.id, {"city": city}) for c, city in zip(fakes[provider].plans[-1].calls, ("Paris", "London"), strict=True)
    ]


def test_thinking_blocks_and_signatures_round_trip_through_anthropic(claude, fakes):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    first = claude.messages.create(model=MODELS["anthropic"], max_tokens=2000, thinking=thinking, messages=ASK)
    assert first.content[0].type == "thinking" and first.content[0].signature == THINKING["signature"]

    second = claude.messages.create(
        model=MODELS["anthropic"],
        max_tokens=2000,
        thinking=thinking,
        messages=[*ASK, {"role": "assistant", "content": first.content}, {"role": "user", "content": "Thanks!"}],
    )
    sent = fakes["anthropic"].requests[-1]["json"]
    assert sent["messages"][1]["content"][0] == THINKING  # the signature went back untouched (else a 400)
    assert sent["thinking"] == thinking and second.content[-1].type == "text"


def test_a_streamed_thinking_block_keeps_its_signature(claude, fakes):
    with claude.messages.stream(
        model=MODELS["anthropic"], max_tokens=2000, messages=ASK, thinking={"type": "enabled", "budget_tokens": 1024}
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].type == "thinking"
    assert final.content[0].thinking == THINKING["thinking"] and final.content[0].signature == THINKING["signature"]
    assert text == fakes["anthropic"].reply_text and final.model == MODELS["anthropic"]


def test_cache_control_and_beta_headers_reach_anthropic_only(claude, fakes):
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    beta = {"anthropic-beta": "interleaved-thinking-2025-05-14"}
    claude.messages.create(model=MODELS["anthropic"], max_tokens=50, system=system, messages=ASK, extra_headers=beta)
    assert fakes["anthropic"].requests[-1]["json"]["system"] == system
    assert fakes["anthropic"].headers_seen[-1]["anthropic-beta"] == beta["anthropic-beta"]

    claude.messages.create(model=MODELS["openai"], max_tokens=50, system=system, messages=ASK, extra_headers=beta)
    assert "anthropic-beta" not in fakes["openai"].headers_seen[-1]
    assert fakes["openai"].requests[-1]["json"]["messages"][0] == {"role": "system", "content": "Be brief."}
