"""The official openai package for these tests, or a module-level skip where it cannot be imported."""

from __future__ import annotations

from types import ModuleType

import pytest
from gevent import monkey


def import_openai() -> ModuleType:
    """`openai`; in a gevent-patched run its transport (httpcore2 → trio) fails on the patched `select`
    (no epoll), so those runs skip the SDK tests. The gevent path is covered by test_gunicorn instead:
    the gateway in real gevent workers, the SDK in the unpatched test process."""
    if monkey.is_module_patched("select"):
        pytest.skip("the openai SDK cannot be imported under gevent's patched select", allow_module_level=True)
    import openai

    return openai
