"""The context of one upstream attempt: the deadline the transport must respect, and what the upstream answered.

The executor opens a scope around each attempt; `HttpTransport` reads it, so every provider module honours
the request deadline and reports the upstream status without knowing about retries or breakers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class AttemptScope:
    """One attempt: its absolute deadline (time.monotonic) and the HTTP status the upstream answered."""

    deadline: float | None = None
    status: int | None = None

    def remaining(self) -> float | None:
        """Seconds left before the deadline, or None when there is none."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()


_current: ContextVar[AttemptScope | None] = ContextVar("llmgateway_attempt", default=None)


def current_attempt() -> AttemptScope | None:
    """The attempt the calling greenlet/thread is making, if an executor opened one."""
    return _current.get()


@contextmanager
def attempt_scope(deadline: float | None) -> Iterator[AttemptScope]:
    """Run one upstream attempt under `deadline` (time.monotonic seconds)."""
    scope = AttemptScope(deadline)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
