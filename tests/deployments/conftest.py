"""Fixtures for deployments: two OpenAI-compatible fakes (alpha, beta) and an Azure-shaped one, one app factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from tests.conftest import AppFactory
from tests.fakes.azure import FakeAzureOpenAI
from tests.fakes.openai import FakeOpenAI


def _serve(fake: Any) -> Iterator[Any]:
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def _alpha() -> Iterator[FakeOpenAI]:
    yield from _serve(FakeOpenAI())


@pytest.fixture(scope="session")
def _beta() -> Iterator[FakeOpenAI]:
    yield from _serve(FakeOpenAI())


@pytest.fixture(scope="session")
def _azure() -> Iterator[FakeAzureOpenAI]:
    yield from _serve(FakeAzureOpenAI())


def _fresh(fake: Any) -> Iterator[Any]:
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def alpha(_alpha: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from _fresh(_alpha)


@pytest.fixture
def beta(_beta: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from _fresh(_beta)


@pytest.fixture
def azure(_azure: FakeAzureOpenAI) -> Iterator[FakeAzureOpenAI]:
    yield from _fresh(_azure)


def pool_config(
    alpha: FakeOpenAI, beta: FakeOpenAI, strategy: str = "weighted", weights: tuple[float, float] = (1, 1), **extra: Any
) -> dict[str, Any]:
    """Providers alpha and beta (OpenAI-compatible) serving the model `pool` as two deployments."""
    return {
        "providers": {
            "alpha": {"type": "openai_compatible", "base_url": alpha.url + "/v1", "api_key": FakeOpenAI.api_key},
            "beta": {
                "type": "openai_compatible",
                "base_url": beta.url + "/v1",
                "api_key": FakeOpenAI.api_key,
                "headers": {"X-Team": "beta-team"},
            },
        },
        "routing": {
            "model_mappings": [
                {
                    "model_id": "pool",
                    "deployments": [
                        {"provider": "alpha", "provider_model_id": "llama-a", "weight": weights[0]},
                        {"provider": "beta", "provider_model_id": "llama-b", "weight": weights[1]},
                    ],
                    "strategy": strategy,
                }
            ]
        },
        **extra,
    }


@pytest.fixture
def pool_app(make_app: AppFactory, alpha: FakeOpenAI, beta: FakeOpenAI, redis_url: str) -> Callable[..., Flask]:
    """An app on Redis serving `pool` from alpha and beta; keyword arguments go to pool_config."""

    def build(**kwargs: Any) -> Flask:
        extra = kwargs.pop("extra", {})
        return make_app(**pool_config(alpha, beta, redis={"url": redis_url}, **kwargs), **extra)

    return build
