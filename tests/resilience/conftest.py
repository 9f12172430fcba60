"""Helpers for the resilience tests: fast retry settings, the fake's provider section, a real gunicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_config
from tests.fakes.openai import FakeOpenAI
from tests.gunicorn_runner import GunicornGateway

#: Retries that keep the tests quick: tiny backoff, the default three attempts.
FAST_RETRIES = {"max_attempts": 3, "backoff_base": 0.01, "backoff_max": 0.05}


def openai_section(fake: FakeOpenAI, **settings: Any) -> dict[str, Any]:
    """The `providers` section pointing OpenAI at the fake, with extra provider settings."""
    return {"openai": {"api_key": FakeOpenAI.api_key, "base_url": fake.url + "/v1", **settings}}


@pytest.fixture
def gunicorn_gateway(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start the gateway under real gunicorn with gevent workers; returns its base URL. Always stopped."""
    started: list[GunicornGateway] = []

    def start(db_url: str, openai_url: str, workers: int = 1, **sections: Any) -> str:
        gateway = GunicornGateway(tmp_path, base_config(db_url, openai_url, **sections), workers=workers)
        started.append(gateway)
        return gateway.start().url

    yield start
    for gateway in started:
        gateway.stop()
