"""Fixtures shared by the Anthropic and Responses surface tests: the gateway live on HTTP with all four fakes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import all_providers_config
from tests.openai_compat.conftest import LiveGateway, serve  # noqa: F401  (serve is a fixture used below)

#: One model per provider, each answered by its fake.
MODELS = {
    "openai": "openai.gpt-4o-mini",
    "anthropic": "anthropic.claude-3-5-haiku-20241022",
    "cohere": "cohere.command-r-08-2024",
    "huggingface": "huggingface.meta-llama/Llama-3.1-8B-Instruct",
}


@pytest.fixture
def fakes(fake_openai: Any, other_fakes: dict[str, Any]) -> dict[str, Any]:
    """Every fake upstream, reset for this test, by provider name."""
    for fake in other_fakes.values():
        fake.reset()
    return {"openai": fake_openai, **other_fakes}


@pytest.fixture
def live(
    make_app: Callable[..., Flask],
    serve: Callable[[Flask], LiveGateway],  # noqa: F811
    fake_openai: Any,
    fakes: dict[str, Any],
) -> LiveGateway:
    return serve(make_app(providers=all_providers_config(fake_openai, fakes)))
