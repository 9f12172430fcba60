"""Overload admission (SPEC §13): a bound on the requests one worker serves at once, refusing at once beyond it."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

#: After a refusal, readiness reports `degraded` for this long (a load balancer sees the worker is shedding).
REFUSING_WINDOW = 5.0


class InFlightLimit:
    """Requests this worker admitted and has not finished (streams until their last byte); beyond `limit` a new
    request is refused instead of queueing behind the others. Refusing never touches admitted requests."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.active = 0
        self.refused = 0
        self._clock = clock
        self._last_refusal = -math.inf
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Take a slot (True), or count a refusal (False)."""
        with self._lock:
            if self.active < self.limit:
                self.active += 1
                return True
            self.refused += 1
            self._last_refusal = self._clock()
            return False

    def release(self) -> None:
        with self._lock:
            self.active = max(0, self.active - 1)

    @property
    def refusing(self) -> bool:
        """Full now, or refused a request within the last REFUSING_WINDOW seconds."""
        return self.active >= self.limit or self._clock() - self._last_refusal < REFUSING_WINDOW
