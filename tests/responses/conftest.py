"""Fixtures for the Responses surface: the live gateway with every fake, and the official openai SDK."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import COMPLETION_KEY
from tests.surface_fixtures import fakes, live, serve  # noqa: F401  (fixtures)


@pytest.fixture
def sdk(live) -> Any:  # noqa: F811
    from tests.openai_compat.sdk import import_openai

    import_openai()
    return live.client(COMPLETION_KEY)
