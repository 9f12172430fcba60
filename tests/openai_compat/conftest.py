"""Fixtures for the OpenAI-compatible surface: the gateway behind a real HTTP server, the official SDK as client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import COMPLETION_KEY, ledger_rows
from tests.openai_compat.sdk import import_openai


class LiveGateway:
    """An app served by werkzeug's threaded server on 127.0.0.1, with SDK clients pointed at its /v1."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._clients: list[Any] = []

    def client(self, api_key: str = COMPLETION_KEY, **options: Any) -> Any:
        """An SDK client as a user would build it: only base_url and the key differ from OpenAI's defaults."""
        options.setdefault("max_retries", 0)  # each test sees the gateway's own answer, not the SDK's retries
        options.setdefault("timeout", 15)
        client = import_openai().OpenAI(base_url=f"{self.url}/v1", api_key=api_key, **options)
        self._clients.append(client)
        return client

    def rows(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The ledger once it holds `count` records (a stream is recorded when the server finishes its body)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = ledger_rows(self.app)
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], LiveGateway]]:
    """Start any number of apps behind real HTTP servers; all are stopped after the test."""
    started: list[LiveGateway] = []

    def start(app: Flask) -> LiveGateway:
        gateway = LiveGateway(app)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(app: Flask, serve: Callable[[Flask], LiveGateway]) -> LiveGateway:
    return serve(app)


@pytest.fixture
def sdk(gateway: LiveGateway) -> Any:
    """The official SDK with a completion key."""
    return gateway.client()
