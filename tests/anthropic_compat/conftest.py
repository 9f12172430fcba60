"""Fixtures for the Anthropic surface: the live gateway with every fake, and the official anthropic SDK."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import COMPLETION_KEY
from tests.surface_fixtures import fakes, live, serve  # noqa: F401  (fixtures)


@pytest.fixture
def claude(live) -> Any:  # noqa: F811
    """The anthropic SDK as a Claude Code user would point it: base_url is the gateway, the key a gateway key."""
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=live.url, api_key=COMPLETION_KEY, max_retries=0, timeout=15)
    yield client
    client.close()
