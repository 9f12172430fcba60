"""Fixtures for the provider tests: one fake upstream per provider for the session, reset before each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmgateway.providers.anthropic import AnthropicProvider
from llmgateway.providers.base import Provider, ProviderSettings
from llmgateway.providers.cohere import CohereProvider
from llmgateway.providers.huggingface import HuggingFaceProvider
from llmgateway.providers.openai import OpenAIProvider
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cohere import FakeCohere
from tests.fakes.huggingface import FakeHuggingFace
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import FakeServer

TGI_KEY = "tgi-secret"


def _served(fake: FakeServer) -> Iterator[FakeServer]:
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeServer]:
    yield from _served(FakeOpenAI())


@pytest.fixture(scope="session")
def _anthropic_server() -> Iterator[FakeServer]:
    yield from _served(FakeAnthropic())


@pytest.fixture(scope="session")
def _cohere_server() -> Iterator[FakeServer]:
    yield from _served(FakeCohere())


@pytest.fixture(scope="session")
def _router_server() -> Iterator[FakeServer]:
    yield from _served(FakeHuggingFace("router"))


@pytest.fixture(scope="session")
def _tgi_server() -> Iterator[FakeServer]:
    yield from _served(FakeHuggingFace("tgi", api_key=TGI_KEY))


def _fresh(server: FakeServer) -> FakeServer:
    server.reset()
    return server


@pytest.fixture
def openai_fake(_openai_server: FakeOpenAI) -> FakeOpenAI:
    return _fresh(_openai_server)


@pytest.fixture
def anthropic_fake(_anthropic_server: FakeAnthropic) -> FakeAnthropic:
    return _fresh(_anthropic_server)


@pytest.fixture
def cohere_fake(_cohere_server: FakeCohere) -> FakeCohere:
    return _fresh(_cohere_server)


@pytest.fixture
def router_fake(_router_server: FakeHuggingFace) -> FakeHuggingFace:
    return _fresh(_router_server)


@pytest.fixture
def tgi_fake(_tgi_server: FakeHuggingFace) -> FakeHuggingFace:
    return _fresh(_tgi_server)


ProviderFactory = Callable[..., Provider]


def _factory(cls: type[Provider], api_key: str | None, base_url: str) -> Iterator[ProviderFactory]:
    made: list[Provider] = []

    def make(api_key: str | None = api_key, base_url: str = base_url, **settings: Any) -> Provider:
        provider = cls(ProviderSettings(api_key=api_key, base_url=base_url, **settings))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def make_openai(openai_fake: FakeOpenAI) -> Iterator[ProviderFactory]:
    yield from _factory(OpenAIProvider, FakeOpenAI.api_key, f"{openai_fake.url}/v1")


@pytest.fixture
def make_anthropic(anthropic_fake: FakeAnthropic) -> Iterator[ProviderFactory]:
    yield from _factory(AnthropicProvider, FakeAnthropic.api_key, anthropic_fake.url)


@pytest.fixture
def make_cohere(cohere_fake: FakeCohere) -> Iterator[ProviderFactory]:
    yield from _factory(CohereProvider, FakeCohere.api_key, cohere_fake.url)


@pytest.fixture
def make_router(router_fake: FakeHuggingFace) -> Iterator[ProviderFactory]:
    yield from _factory(HuggingFaceProvider, FakeHuggingFace.router_key, router_fake.url)


@pytest.fixture
def make_tgi(tgi_fake: FakeHuggingFace) -> Iterator[ProviderFactory]:
    yield from _factory(HuggingFaceProvider, TGI_KEY, tgi_fake.url)
