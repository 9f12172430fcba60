"""Per-request observation: in-flight gauges, the request span and the log context at the start; one
metrics observation and the span's end when the response body is done."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from flask import request

from llmgateway.services import services

Finisher = Callable[[dict[str, Any], Any], None]


def begin(request_id: str) -> Any:
    """Start the gauges, bind the log context and open the request span (returned, or None when not traced)."""
    svc = services()
    svc.metrics.request_started()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    route = request_route()
    return svc.tracing.begin_request(
        f"{request.method} {route or ''}".strip(),
        {"http.request.method": request.method, "url.path": request.path, "llmgateway.request_id": request_id},
        request.headers,
    )


def request_route() -> str | None:
    """The matched URL rule (`/api/v1/models/<path:model_id>`), never the raw path: bounded label values."""
    return request.url_rule.rule if request.url_rule is not None else None


def finisher(started: float, trace: Any, streaming: bool) -> Finisher:
    """Called in after_request; returns what to run once the body was sent (possibly outside the request)."""
    metrics = services().metrics
    if streaming:
        metrics.stream_started()

    def finish(line: dict[str, Any], call: Any) -> None:
        try:
            metrics.observe(line, call, time.perf_counter() - started)
            if trace is not None:
                trace.finish(line, call)
        finally:
            if streaming:
                metrics.stream_ended()
            metrics.request_ended()
            structlog.contextvars.unbind_contextvars("request_id")

    return finish
