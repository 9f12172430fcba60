"""Admission control seam: token-per-minute and spend budgets reserved before a call, settled after."""

from __future__ import annotations

from typing import Protocol

from llmgateway.core.usage import UsageCall


class Reservation(Protocol):
    def settle(self, tokens: int, cost_usd: float) -> None: ...


class Admission(Protocol):
    def admit(self, call: UsageCall, estimated_tokens: int) -> Reservation:
        """Reserve capacity for a call or raise RateLimitExceeded / BudgetExceeded."""
        ...


class _NoReservation:
    def settle(self, tokens: int, cost_usd: float) -> None:
        return None


class OpenAdmission:
    """Admits everything (no token or spend limits configured)."""

    def admit(self, call: UsageCall, estimated_tokens: int) -> Reservation:
        return _NoReservation()
