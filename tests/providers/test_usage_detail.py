"""Usage detail per provider, plain and streamed: cached, cache-write and reasoning tokens from each wire format."""

from __future__ import annotations

import pytest

from llmgateway.errors import GatewayError
from llmgateway.providers.types import ChatRequest, Message, Usage
from tests.fakes.server import UsageDetail

from .streams import drain

#: Enough words that the scripted cached and cache-write counts fit inside the counted prompt.
LONG = (Message("system", " ".join(["context"] * 60)), Message("user", "What is in the context?"))
DETAIL = UsageDetail(cached=40, cache_write=12, reasoning=3)
MODELS = {
    "openai": "o4-mini",
    "anthropic": "claude-sonnet-4-5-20250929",
    "cohere": "command-a-03-2025",
    "router": "meta-llama/Llama-3.1-8B-Instruct",
    "tgi": "tgi",
}


def served_usage(fake) -> Usage:
    served = fake.served[-1]
    return Usage(
        served.prompt_tokens,
        served.completion_tokens,
        cached_tokens=served.cached_tokens,
        cache_write_tokens=served.cache_write_tokens,
        reasoning_tokens=served.reasoning_tokens,
    )


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("streamed", [False, True])
def test_each_provider_reports_what_its_fake_served(request, name, streamed):
    fake = request.getfixturevalue(f"{name}_fake")
    provider = request.getfixturevalue(f"make_{name}")()
    fake.detail = DETAIL
    chat = ChatRequest(model=MODELS[name], messages=LONG, max_tokens=50)
    if streamed:
        stream = provider.stream_chat(chat)
        drain(stream)
        usage = stream.usage
    else:
        usage = provider.chat(chat).usage
    assert usage == served_usage(fake)
    expected = {  # which details each wire format carries
        "openai": (40, 12, 3),
        "anthropic": (40, 12, 3),
        "cohere": (40, 0, 0),
        "router": (40, 0, 3),
        "tgi": (0, 0, 0),
    }[name]
    assert (usage.cached_tokens, usage.cache_write_tokens, usage.reasoning_tokens) == expected
    assert not usage.clamped and not usage.estimated


def test_anthropic_prompt_is_input_plus_cache_reads_and_writes(make_anthropic, anthropic_fake):
    anthropic_fake.detail = DETAIL
    usage = make_anthropic().chat(ChatRequest(model=MODELS["anthropic"], messages=LONG)).usage
    sent = anthropic_fake.served[-1].prompt_tokens - 40 - 12  # the fake's uncached `input_tokens`
    assert usage.prompt_tokens == sent + 40 + 12 and usage.uncached_prompt_tokens == sent


def test_anthropic_stream_knows_the_cache_counts_from_message_start(make_anthropic, anthropic_fake):
    """Cut after two text deltas: the input-side counts were already final in message_start."""
    anthropic_fake.detail = DETAIL
    anthropic_fake.push("cut_after", after=2)
    stream = make_anthropic().stream_chat(ChatRequest(model=MODELS["anthropic"], messages=LONG))
    with pytest.raises(GatewayError):
        drain(stream)
    assert stream.usage is None
    so_far = stream.usage_so_far
    assert so_far is not None and (so_far.cached_tokens, so_far.cache_write_tokens) == (40, 12)
    assert so_far.prompt_tokens == anthropic_fake.served[-1].prompt_tokens


def test_cohere_cached_tokens_beyond_the_billed_prompt_are_capped_not_flagged(make_cohere, cohere_fake):
    """Cohere counts cache hits in raw tokens (with its prompt scaffolding), more than the billed input."""
    from llmgateway.providers.cohere import usage

    counted = usage(
        {
            "billed_units": {"input_tokens": 5.0, "output_tokens": 9.0},
            "tokens": {"input_tokens": 71.0, "output_tokens": 9.0},
            "cached_tokens": 64.0,
        }
    )
    assert counted == Usage(5, 9, cached_tokens=5) and not counted.clamped


@pytest.mark.parametrize(
    "raw",
    [
        {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 11}},
        {"prompt_tokens": 10, "completion_tokens": 2, "completion_tokens_details": {"reasoning_tokens": -4}},
        {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 2**40}},
        {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": "lots"}},
    ],
)
def test_absurd_detail_counts_are_bounded_and_flagged(raw):
    from llmgateway.providers.openai import OpenAIProvider

    usage = OpenAIProvider.usage(raw)
    assert usage is not None and usage.clamped
    assert 0 <= usage.cached_tokens <= usage.prompt_tokens and 0 <= usage.reasoning_tokens <= usage.completion_tokens


def test_null_details_from_compatible_servers_read_as_zero():
    from llmgateway.providers.openai import OpenAIProvider

    raw = {"prompt_tokens": 7, "completion_tokens": 3, "prompt_tokens_details": None, "completion_tokens_details": None}
    assert OpenAIProvider.usage(raw) == Usage(7, 3)


def test_anthropic_one_hour_cache_writes_are_read_from_cache_creation(make_anthropic, anthropic_fake):
    anthropic_fake.detail = UsageDetail(cache_write=12, cache_write_1h=5)
    plain = make_anthropic().chat(ChatRequest(model=MODELS["anthropic"], messages=LONG)).usage
    stream = make_anthropic().stream_chat(ChatRequest(model=MODELS["anthropic"], messages=LONG))
    drain(stream)
    for usage in (plain, stream.usage):
        assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (12, 5) and not usage.clamped
