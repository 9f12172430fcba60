"""When to try the same model again: failure classification, jittered backoff, the retry budget, the deadline."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from llmgateway.config import RetryConfig
from llmgateway.errors import GatewayError, GatewayTimeout, RateLimitExceeded, ServerError, ServiceUnavailable

#: Below this many seconds left before the deadline, another attempt is not worth starting.
MIN_ATTEMPT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt: the gateway error and the HTTP status the upstream answered (None: no answer)."""

    error: GatewayError
    status: int | None

    @property
    def upstream_fault(self) -> bool:
        """The deployment misbehaved: 5xx/529, timeouts, resets, unreadable answers — what breakers count.

        429s and other 4xx (including the upstream refusing the gateway's credentials) are not its fault.
        """
        if isinstance(self.error, GatewayTimeout):
            return True
        if isinstance(self.error, (ServerError, ServiceUnavailable)):
            return self.status is None or not 400 <= self.status < 500
        return False

    @property
    def transient(self) -> bool:
        """Worth retrying on the same model: 429, 5xx/529, connection errors and timeouts."""
        if isinstance(self.error, (RateLimitExceeded, GatewayTimeout)):
            return True
        return isinstance(self.error, ServerError) and (self.status is None or self.status >= 500)


class Deadline:
    """The one overall deadline of a request (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()


class RetryBudget:
    """Finagle's retry budget, per worker: each request deposits `ratio` of a retry, each retry withdraws one, and a
    floor of `min_per_second` retries per second is always there on top (Finagle's defaults: 20 % and 10/s).

    Deposits and withdrawals expire after `ttl` seconds, so retries stay within `ratio` of recent requests plus
    `min_per_second * ttl` per window: a storm cannot multiply the load, and a quiet gateway that just went
    through a burst of failures still retries its next transient error.
    """

    def __init__(
        self,
        ratio: float,
        *,
        min_per_second: float = 10.0,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.reserve = min_per_second * ttl
        self._clock = clock
        self._slots = 10
        self._width = ttl / self._slots
        self._requests = [0] * self._slots
        self._withdrawals = [0] * self._slots
        self._stamps = [-1] * self._slots
        self._lock = threading.Lock()

    def deposit(self) -> None:
        """A request arrived."""
        with self._lock:
            self._requests[self._slot()] += 1

    def try_withdraw(self) -> bool:
        """Spend one retry if the budget allows it."""
        with self._lock:
            if self._available() < 1.0:
                return False
            self._withdrawals[self._slot()] += 1
            return True

    def _available(self) -> float:
        oldest = int(self._clock() / self._width) - self._slots + 1
        live = [i for i, stamp in enumerate(self._stamps) if stamp >= oldest]
        deposits = self.ratio * sum(self._requests[i] for i in live) + 1e-9  # counts, so no float drift
        return self.reserve + deposits - sum(self._withdrawals[i] for i in live)

    def _slot(self) -> int:
        tick = int(self._clock() / self._width)
        slot = tick % self._slots
        if self._stamps[slot] != tick:
            self._stamps[slot], self._requests[slot], self._withdrawals[slot] = tick, 0, 0
        return slot


class RetryPolicy:
    """How many attempts on one model and how long to wait between them."""

    def __init__(self, config: RetryConfig, rng: random.Random | None = None) -> None:
        self.max_attempts = config.max_attempts
        self.backoff_base = config.backoff_base
        self.backoff_max = config.backoff_max
        self.max_retry_after = config.max_retry_after
        self._rng = rng or random.Random()

    def delay(self, failure: Failure, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None when this failure must not be retried."""
        if attempt >= self.max_attempts or not failure.transient:
            return None
        retry_after = failure.error.retry_after
        if retry_after is not None:
            # Honour the upstream's Retry-After; a longer wait is better spent on a fallback or by the client.
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._rng.random())  # "equal jitter": between half and all of it
