"""The container of long-lived objects the app factory wires together, one per worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from llmgateway.config import Settings
from llmgateway.core.authenticator import Authenticator
from llmgateway.core.gateway import Gateway
from llmgateway.infra.keystore import KeyStore
from llmgateway.infra.ledger import UsageLedger
from llmgateway.infra.metrics import GatewayMetrics
from llmgateway.infra.stored_responses import ResponseStore
from llmgateway.infra.tracing import NullTracing, OtelTracing
from llmgateway.providers.base import Provider

EXTENSION_KEY = "llmgateway"


@dataclass
class Services:
    """Everything a request may need beyond Flask itself."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keystore: KeyStore
    authenticator: Authenticator
    ledger: UsageLedger
    providers: dict[str, Provider]
    gateway: Gateway
    response_store: ResponseStore
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    tracing: NullTracing | OtelTracing = field(default_factory=NullTracing)
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self, ledger_timeout: float = 10.0) -> None:
        self.ledger.close(ledger_timeout)
        self.metrics.close()
        self.tracing.shutdown()
        for provider in self.providers.values():
            provider.close()
        for extra in self.extras.values():
            closer = getattr(extra, "close", None)
            if callable(closer):
                closer()
        self.engine.dispose()


def services() -> Services:
    """The current app's services."""
    return current_app.extensions[EXTENSION_KEY]
