"""Providers by configuration against real fakes: an OpenAI-compatible endpoint and an Azure OpenAI resource."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmgateway.errors import InvalidRequest, ModelNotFound, RateLimitExceeded, ServerError
from llmgateway.providers.azure import AzureOpenAIProvider
from llmgateway.providers.base import ProviderSettings
from llmgateway.providers.openai_compatible import OpenAICompatibleProvider
from llmgateway.providers.registry import named_provider_class
from llmgateway.providers.types import ChatRequest, EmbeddingRequest, Message, Usage
from tests.fakes.azure import FILTERED_WORD, FakeAzureOpenAI, azure_rate_limit
from tests.fakes.openai import FakeOpenAI
from tests.providers.streams import drain, finish_of

HELLO = (Message("user", "Hello there"),)


@pytest.fixture(scope="module")
def azure() -> Iterator[FakeAzureOpenAI]:
    fake = FakeAzureOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
def azure_fake(azure: FakeAzureOpenAI) -> Iterator[FakeAzureOpenAI]:
    azure.reset()
    yield azure
    azure.reset()


@pytest.fixture(scope="module")
def compatible() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def azure_provider(fake: FakeAzureOpenAI, key: str | None = None) -> AzureOpenAIProvider:
    cls = named_provider_class(AzureOpenAIProvider, "azure-eu")
    return cls(ProviderSettings(api_key=key or fake.api_key, base_url=fake.url, options={"api_version": "2024-10-21"}))


def test_azure_chat_uses_the_deployment_url_api_version_and_key_header(azure_fake):
    provider = azure_provider(azure_fake)
    answer = provider.chat(ChatRequest("my-gpt4o", HELLO, max_tokens=50, request_id="req-1"))
    sent = azure_fake.requests[-1]
    assert sent["path"] == "/openai/deployments/my-gpt4o/chat/completions"
    assert azure_fake.headers_seen[-1]["api-key"] == azure_fake.api_key
    assert "authorization" not in azure_fake.headers_seen[-1]
    assert "model" not in sent["json"] and sent["json"]["max_tokens"] == 50
    assert answer.content == "Hello from the fake upstream" and answer.usage == Usage(2, 5)
    assert provider.name == "azure-eu"


def test_azure_streams_past_its_filter_results_event(azure_fake):
    stream = azure_provider(azure_fake).stream_chat(ChatRequest("my-gpt4o", HELLO))
    text, deltas = drain(stream)
    assert text == "Hello from the fake upstream" and finish_of(deltas) == ["stop"]
    assert stream.usage == Usage(2, 5)
    assert azure_fake.requests[-1]["json"]["stream_options"] == {"include_usage": True}


def test_azure_embeddings(azure_fake):
    answer = azure_provider(azure_fake).embed(EmbeddingRequest("my-embedding", ("a b", "c"), dimensions=4))
    assert azure_fake.requests[-1]["path"] == "/openai/deployments/my-embedding/embeddings"
    assert len(answer.vectors) == 2 and len(answer.vectors[0]) == 4


def test_azure_errors_map_to_gateway_codes(azure_fake):
    provider = azure_provider(azure_fake)
    with pytest.raises(InvalidRequest, match="content filter"):
        provider.chat(ChatRequest("my-gpt4o", (Message("user", f"tell me about {FILTERED_WORD}"),)))
    with pytest.raises(ModelNotFound):
        provider.chat(ChatRequest("no-such-deployment", HELLO))
    azure_fake.push("status", **azure_rate_limit(6))
    with pytest.raises(RateLimitExceeded) as limited:
        provider.chat(ChatRequest("my-gpt4o", HELLO))
    assert limited.value.retry_after == 6
    with pytest.raises(ServerError, match="credentials") as refused:
        azure_provider(azure_fake, key="wrong-key-000000").chat(ChatRequest("my-gpt4o", HELLO))
    assert "subscription" not in refused.value.message  # the upstream's text about our key is never echoed


def test_openai_compatible_sends_extra_headers_and_no_key_when_none_is_configured(compatible):
    compatible.reset()
    cls = named_provider_class(OpenAICompatibleProvider, "local-vllm")
    provider = cls(
        ProviderSettings(
            api_key=None,
            base_url=compatible.url + "/v1",
            options={"headers": {"X-Team": "search", "Content-Length": "1"}},
        )
    )
    with pytest.raises(ServerError):  # the fake wants OpenAI's key: no key was sent
        provider.chat(ChatRequest("llama-3", HELLO, max_tokens=20))
    seen = compatible.headers_seen[-1]
    assert seen["x-team"] == "search" and "authorization" not in seen
    assert compatible.requests[-1]["json"]["max_tokens"] == 20  # what self-hosted servers read
    keyed = cls(ProviderSettings(api_key=FakeOpenAI.api_key, base_url=compatible.url + "/v1"))
    assert keyed.chat(ChatRequest("llama-3", HELLO)).content == "Hello from the fake upstream"
