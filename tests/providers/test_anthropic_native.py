"""The Anthropic provider's native mode: a /v1/messages body sent as is, the raw answer beside the neutral one."""

from __future__ import annotations

from llmgateway.providers.types import ChatRequest, Message, NativeRequest, Usage
from tests.fakes.anthropic import THINKING

from .streams import drain

MODEL = "claude-sonnet-4-5-20250929"
THINKING_ON = {"type": "enabled", "budget_tokens": 2048}
CONVERSATION = [
    {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]},
    {"role": "assistant", "content": [THINKING, {"type": "text", "text": "Hello"}]},
    {"role": "user", "content": "How are you?"},
]


def native_request(**body):
    native = NativeRequest(
        "anthropic.messages",
        {"max_tokens": 50, "messages": CONVERSATION, **body},
        {"anthropic-beta": "interleaved-thinking-2025-05-14", "x-forged": "no"},
    )
    # the neutral side is what other providers would get; here it must not leak into the native body
    return ChatRequest(model=MODEL, messages=(Message("user", "neutral only"),), max_tokens=7, native=native)


def test_the_native_body_and_beta_header_reach_anthropic_untouched(make_anthropic, anthropic_fake):
    response = make_anthropic().chat(native_request(thinking=THINKING_ON, top_k=5))

    sent, headers = anthropic_fake.requests[-1]["json"], anthropic_fake.headers_seen[-1]
    assert sent == {"model": MODEL, "max_tokens": 50, "messages": CONVERSATION, "thinking": THINKING_ON, "top_k": 5}
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14" and "x-forged" not in headers
    assert response.native["content"][0] == THINKING  # the signature comes back as Anthropic sent it
    assert response.content == anthropic_fake.reply_text and response.usage.completion_tokens > 0


def test_a_native_stream_carries_every_event_as_it_came(make_anthropic, anthropic_fake):
    stream = make_anthropic().stream_chat(native_request(thinking=THINKING_ON))
    text, deltas = drain(stream)

    assert anthropic_fake.requests[-1]["json"]["stream"] is True
    events = [d.native for d in deltas]
    assert all(events)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop" and "ping" in names
    kinds = [data["delta"]["type"] for name, data in events if name == "content_block_delta"]
    assert "thinking_delta" in kinds and "signature_delta" in kinds
    assert text == anthropic_fake.reply_text  # the neutral view (text only; thinking is not content)
    assert isinstance(stream.usage, Usage) and stream.usage.completion_tokens > 0


def test_without_native_nothing_changes(make_anthropic, anthropic_fake):
    make_anthropic().chat(ChatRequest(model=MODEL, messages=(Message("user", "Hi"),), max_tokens=9))
    assert anthropic_fake.requests[-1]["json"]["messages"] == [{"role": "user", "content": "Hi"}]
    assert "anthropic-beta" not in anthropic_fake.headers_seen[-1]
