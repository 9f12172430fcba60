"""gunicorn worker hooks: start the ledger drainer, end open streams before the graceful timeout, drain on exit."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from llmgateway.errors import ServiceUnavailable
from llmgateway.services import EXTENSION_KEY, Services

log = logging.getLogger(__name__)
POLL = 0.2


def shutdown_margin(graceful_timeout: float) -> float:
    """Seconds kept after open streams are ended: for them to write their records and the worker to drain."""
    return min(10.0, max(2.0, graceful_timeout * 0.2))


def worker_services(worker: Any) -> Services | None:
    app = getattr(worker, "wsgi", None)
    return getattr(app, "extensions", {}).get(EXTENSION_KEY) if app is not None else None


def on_worker_start(worker: Any, graceful_timeout: float) -> None:
    """Start the drainer now (it recovers segments of dead workers) and watch for the worker's shutdown."""
    services = worker_services(worker)
    if services is None:
        return
    services.ledger.start()
    watcher = threading.Thread(
        target=_end_streams_before_kill, args=(worker, services, graceful_timeout), name="shutdown-watch", daemon=True
    )
    watcher.start()


def on_worker_exit(worker: Any, graceful_timeout: float) -> None:
    """Commit what the spool holds within the margin; anything left stays on disk for the next worker."""
    services = worker_services(worker)
    if services is not None:
        services.close(ledger_timeout=shutdown_margin(graceful_timeout) / 2)


def _end_streams_before_kill(worker: Any, services: Services, graceful_timeout: float) -> None:
    """After SIGTERM, let streams run until the margin before the master's SIGKILL, then end them in-band."""
    while worker.alive:
        time.sleep(POLL)
    streams = services.gateway.open_streams
    deadline = time.monotonic() + max(0.0, graceful_timeout - shutdown_margin(graceful_timeout))
    while len(streams) and time.monotonic() < deadline:
        time.sleep(POLL)
    ended = streams.abort_all(lambda: ServiceUnavailable("The gateway is restarting; retry the request."))
    if ended:
        log.warning("ended %d open streams before the graceful timeout; their usage is recorded", ended)
