"""The Done-when tool loop: call → tool results → final answer, two parallel calls, plain and streamed, on a model
of each provider, through both surfaces; each upstream received its own format; the ledger records every call."""

from __future__ import annotations

import json

import pytest

from llmgateway.providers.chat_types import ToolCall
from tests.conftest import ledger_rows
from tests.fakes.received import RECEIVED
from tests.openai_compat.sdk import import_openai
from tests.rich.conftest import ASK, MODELS, TOOLS, as_message, assemble, post, results, sse_chunks

openai = import_openai()
RECEIVED_BY = {"openai": "openai", "anthropic": "anthropic", "cohere": "cohere", "huggingface": "router"}


def check_calls(calls: list[ToolCall], produced: list, firsts: list[int] | None = None) -> None:
    """Two calls, distinct indexes and ids, arguments exactly the JSON the upstream produced."""
    assert len(calls) == 2 and len({c.id for c in calls}) == 2
    assert [(c.id, c.name) for c in calls] == [(p.id, p.name) for p in produced]
    assert [json.loads(c.arguments) for c in calls] == [json.loads(p.arguments) for p in produced]
    if firsts is not None:  # streamed: id and name once per call, concatenated fragments equal to the upstream's
        assert firsts == [0, 1]
        assert [c.arguments for c in calls] == [p.arguments for p in produced]


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("provider", list(MODELS))
def test_sdk_tool_loop(live, fakes, provider, streamed):
    sdk, fake, model = live.client(), fakes[provider], MODELS[provider]
    if streamed:
        stream = sdk.chat.completions.create(
            model=model, messages=ASK, tools=TOOLS, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk.model_dump() for chunk in stream]
        calls, firsts, finish, _text = assemble(chunks)
        assert chunks[-1]["usage"]["total_tokens"] > 0
    else:
        first = sdk.chat.completions.create(model=model, messages=ASK, tools=TOOLS)
        message = first.choices[0].message
        calls = [ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls]
        firsts, finish = None, first.choices[0].finish_reason
    assert finish == "tool_calls"
    check_calls(calls, fake.plans[-1].calls, firsts)

    # as SDK users do: the answer's message object itself goes back (streamed: rebuilt from the deltas)
    follow_up = [*ASK, as_message(calls) if streamed else message, *results(calls)]
    expected = "Results: result of get_weather | result of get_time"
    if streamed:
        chunks = [
            c.model_dump()
            for c in sdk.chat.completions.create(model=model, messages=follow_up, tools=TOOLS, stream=True)
        ]
        _calls, _firsts, finish, text = assemble(chunks)
    else:
        final = sdk.chat.completions.create(model=model, messages=follow_up, tools=TOOLS)
        text, finish = final.choices[0].message.content, final.choices[0].finish_reason
    assert (text, finish) == (expected, "stop")
    RECEIVED[RECEIVED_BY[provider]](fake.requests[-1]["json"]["messages"], tuple(calls))

    rows = live.rows(2)
    assert [(r["provider"], r["status_code"]) for r in rows] == [(provider, 200)] * 2
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in rows)


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("provider", list(MODELS))
def test_gateway_surface_tool_loop(live, fakes, provider, streamed):
    fake, model = fakes[provider], MODELS[provider]
    path = "/api/v1/completion/stream" if streamed else "/api/v1/completion"
    response = post(live, path, {"model": model, "messages": ASK, "tools": TOOLS})
    assert response.status_code == 200, response.text
    if streamed:
        calls, firsts, finish, text = assemble(sse_chunks(response))
        assert text == ""  # Cohere's tool_plan is reasoning, not content
    else:
        choice = response.json()["choices"][0]
        calls = [
            ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
            for c in choice["message"]["tool_calls"]
        ]
        firsts, finish = None, choice["finish_reason"]
        assert choice["message"]["content"] is None and response.json()["provider"] == provider
    assert finish == "tool_calls"
    check_calls(calls, fake.plans[-1].calls, firsts)

    follow_up = {"model": model, "messages": [*ASK, as_message(calls), *results(calls)], "tools": TOOLS}
    response = post(live, path, follow_up)
    if streamed:
        _calls, _firsts, finish, text = assemble(sse_chunks(response))
    else:
        text, finish = (
            response.json()["choices"][0]["message"]["content"],
            response.json()["choices"][0]["finish_reason"],
        )
    assert (text, finish) == ("Results: result of get_weather | result of get_time", "stop")
    RECEIVED[RECEIVED_BY[provider]](fake.requests[-1]["json"]["messages"], tuple(calls))
    rows = ledger_rows(live.app) if not streamed else live.rows(2)
    assert [r["provider"] for r in rows] == [provider, provider]
