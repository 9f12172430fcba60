"""Admission control: token-per-minute and spend budgets reserved atomically before a call, settled after."""

from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from llmgateway.core.pricing import PriceList
from llmgateway.core.routing import ModelCatalogue
from llmgateway.core.usage import UsageCall
from llmgateway.errors import BudgetExceeded, GatewayError, RateLimitExceeded

NANO = 1_000_000_000  # spend is counted in nano-dollars so Redis can add integers atomically
TPM_WINDOW = 60
ADMITTED, TPM_EXCEEDED, BUDGET_EXCEEDED = "admitted", "tpm_exceeded", "budget_exceeded"
PERIOD_NAMES = {"day": "daily", "month": "monthly"}


class Reservation(Protocol):
    def settle(self, tokens: int, cost_usd: float) -> None: ...


class Admission(Protocol):
    def admit(self, call: UsageCall, estimated_tokens: int) -> Reservation:
        """Reserve capacity for a call or raise RateLimitExceeded / BudgetExceeded."""
        ...


@contextmanager
def released_on_failure(reservation: Reservation) -> Iterator[None]:
    """Give a reservation back (0 tokens, $0) when the call it was made for fails."""
    try:
        yield
    except BaseException:
        reservation.settle(0, 0.0)
        raise


class _NoReservation:
    def settle(self, tokens: int, cost_usd: float) -> None:
        return None


NO_RESERVATION = _NoReservation()


class OpenAdmission:
    """Admits everything (no token or spend limits configured)."""

    def admit(self, call: UsageCall, estimated_tokens: int) -> Reservation:
        return NO_RESERVATION


# -- quota stores (Redis or in-process; see infra/quota.py) ------------------------------------------
@dataclass(frozen=True, slots=True)
class QuotaAsk:
    """One reservation: `tokens` against a sliding minute, `cost_nano` against a day or month budget."""

    key_id: str
    tokens: int
    tpm_limit: int | None
    window: int  # the minute (epoch // 60) the tokens are counted in
    prev_weight: float  # share of the previous minute still inside the sliding window
    budget_nano: int | None
    cost_nano: int
    period: str  # e.g. "d20250101" or "m202501"
    period_start: datetime
    period_seconds_left: float


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str
    used: int = 0
    store: QuotaStore | None = None  # the store that holds the reservation


class QuotaStore(Protocol):
    def reserve(self, ask: QuotaAsk) -> Verdict:
        """Check and reserve atomically; outcome ADMITTED, TPM_EXCEEDED or BUDGET_EXCEEDED."""
        ...

    def adjust(self, ask: QuotaAsk, tokens_delta: int, cost_delta_nano: int) -> None:
        """Correct a reservation to the real usage (deltas may be negative)."""
        ...


class QuotaReservation:
    """Settles once: replaces the estimate by the real tokens and cost (0, 0 releases it)."""

    def __init__(self, ask: QuotaAsk, store: QuotaStore) -> None:
        self._ask = ask
        self._store = store
        self._settled = False
        self._lock = threading.Lock()

    def settle(self, tokens: int, cost_usd: float) -> None:
        with self._lock:
            if self._settled:
                return
            self._settled = True
        ask = self._ask
        token_delta = (tokens - ask.tokens) if ask.tpm_limit is not None else 0
        cost_delta = (to_nano(cost_usd) - ask.cost_nano) if ask.budget_nano is not None else 0
        if token_delta or cost_delta:
            self._store.adjust(ask, token_delta, cost_delta)


def to_nano(usd: float) -> int:
    return round(usd * NANO)


def budget_period(now: float, period: str) -> tuple[str, datetime, float]:
    """The period's id, its UTC start and the seconds left in it."""
    moment = datetime.fromtimestamp(now, UTC)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        length = 86_400.0
        return f"d{start:%Y%m%d}", start.replace(tzinfo=None), start.timestamp() + length - now
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    length = calendar.monthrange(start.year, start.month)[1] * 86_400.0
    return f"m{start:%Y%m}", start.replace(tzinfo=None), start.timestamp() + length - now


class CostEstimator:
    """A conservative cost for a reservation: every token at the model's higher per-token price."""

    def __init__(self, catalogue: ModelCatalogue, prices: PriceList) -> None:
        self._catalogue = catalogue
        self._prices = prices

    def __call__(self, call: UsageCall, tokens: int) -> float:
        try:
            route = self._catalogue.resolve(call.model or "")
        except GatewayError:
            return 0.0
        pricing = self._prices.price_for(route.model_id, route.provider, route.provider_model, route.pricing)
        rate = max(pricing.input_per_million or 0.0, pricing.output_per_million or 0.0)
        return tokens * rate / 1_000_000


class QuotaAdmission:
    """Reserves a key's TPM and spend budget (Principal.tpm_limit, budget_usd, budget_period) per call."""

    def __init__(
        self,
        store: QuotaStore,
        estimate_cost: Callable[[UsageCall, int], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._estimate_cost = estimate_cost
        self._clock = clock

    def admit(self, call: UsageCall, estimated_tokens: int) -> Reservation:
        principal = call.principal
        if principal is None or (principal.tpm_limit is None and principal.budget_usd is None):
            return NO_RESERVATION
        now = self._clock()
        has_budget = principal.budget_usd is not None
        period, start, left = budget_period(now, principal.budget_period or "month")
        ask = QuotaAsk(
            key_id=principal.key_id,
            tokens=max(0, estimated_tokens) if principal.tpm_limit is not None else 0,
            tpm_limit=principal.tpm_limit,
            window=int(now // TPM_WINDOW),
            prev_weight=1.0 - (now % TPM_WINDOW) / TPM_WINDOW,
            budget_nano=to_nano(principal.budget_usd) if has_budget else None,  # type: ignore[arg-type]
            cost_nano=to_nano(self._estimate_cost(call, estimated_tokens)) if has_budget else 0,
            period=period,
            period_start=start,
            period_seconds_left=left,
        )
        verdict = self._store.reserve(ask)
        if verdict.outcome == TPM_EXCEEDED:
            raise RateLimitExceeded(
                f"Tokens-per-minute limit of {principal.tpm_limit} reached for this key.",
                retry_after=TPM_WINDOW - now % TPM_WINDOW,
                headers={
                    "X-RateLimit-Limit-Tokens": str(principal.tpm_limit),
                    "X-RateLimit-Remaining-Tokens": str(max(0, (principal.tpm_limit or 0) - verdict.used)),
                },
            )
        if verdict.outcome == BUDGET_EXCEEDED:
            raise BudgetExceeded(
                f"The key's {PERIOD_NAMES[principal.budget_period or 'month']} budget of "
                f"${principal.budget_usd:.2f} is exhausted.",
                retry_after=left,
            )
        return QuotaReservation(ask, verdict.store or self._store)
