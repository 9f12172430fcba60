"""Per-request observation: in-flight gauges, the request span and the log context at the start; one
metrics observation and the span's end when the response body is done."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from flask import Response, g, request

from llmgateway.services import services

Finisher = Callable[[dict[str, Any], Any], None]


def begin_request() -> None:
    """before_request (right after the ids are assigned): start the clock, the gauges and the span."""
    svc = services()
    g.observe_started = time.perf_counter()
    svc.metrics.request_started()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)
    route = request_route()
    g.request_trace = svc.tracing.begin_request(
        f"{request.method} {route or ''}".strip(),
        {"http.request.method": request.method, "url.path": request.path, "llmgateway.request_id": g.request_id},
        request.headers,
    )


def request_route() -> str | None:
    """The matched URL rule (`/api/v1/models/<path:model_id>`), never the raw path: bounded label values."""
    return request.url_rule.rule if request.url_rule is not None else None


def request_finisher(response: Response) -> Finisher:
    """Called in after_request; returns what to run once the body was sent (the app's log_request calls it)."""
    svc = services()
    started = g.get("observe_started")
    trace = g.get("request_trace")
    streaming = bool(g.get("stream_owned"))
    if streaming:
        svc.metrics.stream_started()

    def finish(line: dict[str, Any], call: Any) -> None:
        metrics = svc.metrics
        seconds = time.perf_counter() - started if started is not None else None
        try:
            metrics.observe(line, call, seconds)
            if trace is not None:
                trace.finish(line, call)
        finally:
            if streaming:
                metrics.stream_ended()
            if started is not None:
                metrics.request_ended()
            structlog.contextvars.unbind_contextvars("request_id")

    return finish
