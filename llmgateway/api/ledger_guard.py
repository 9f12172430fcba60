"""Refuses new usage requests while the ledger's spool is at its cap: nothing is served that cannot be billed."""

from __future__ import annotations

from flask import g

from llmgateway.errors import ServiceUnavailable
from llmgateway.services import services

RETRY_AFTER = 30.0


def refuse_when_ledger_full() -> None:
    """before_request hook, after authentication: 503 before any upstream work when the spool is full."""
    if g.llmgateway.call is not None and services().ledger.full:
        raise ServiceUnavailable("The usage ledger is full; retry later.", retry_after=RETRY_AFTER)
