"""One request's lifecycle: ids and state → usage record opened once authenticated → recorded once → log line.

Every per-request value lives on one namespaced object (`RequestState`, at `g.llmgateway`). This module is
the only one that opens and records the usage call: a plain answer is recorded before its body is sent (a
worker killed right after answering loses nothing); a streamed answer when its body ends, exhausted or
closed by the WSGI server because the client went away.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from flask import Response, g, request

from llmgateway.api import observability
from llmgateway.api.security import Requirement
from llmgateway.core.keys import Principal
from llmgateway.core.usage import UsageCall
from llmgateway.infra.logging import request_logger
from llmgateway.services import services

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


@dataclass(slots=True)
class RequestState:
    """Everything the gateway knows about the current request, in one place."""

    request_id: str
    client_request_id: str
    started: float
    principal: Principal | None = None
    requirement: Requirement | None = None
    call: UsageCall | None = None  # set for usage routes (completion, stream, embedding) once authenticated
    error_code: str | None = None  # the code of the error answer, when there is one
    trace: Any = None


def current_state() -> RequestState | None:
    """The state of the current request (None before the first hook ran, e.g. in a routing error)."""
    return g.get("llmgateway")


def state() -> RequestState:
    return g.llmgateway


def current_call() -> UsageCall:
    """The usage call of the current usage route (opened by `open_usage_record`)."""
    call = g.llmgateway.call
    assert call is not None, "only usage routes have a usage call"
    return call


def open_request() -> None:
    """before_request, first: the gateway's own UUID, the client's X-Request-ID when sane, the observation."""
    request_id = str(uuid.uuid4())
    client = request.headers.get("X-Request-ID", "")
    g.llmgateway = current = RequestState(
        request_id=request_id,
        client_request_id=client if _SANE_REQUEST_ID.match(client) else request_id,
        started=time.perf_counter(),
    )
    current.trace = observability.begin(current.request_id)


def open_usage_record() -> None:
    """before_request, right after authentication: usage routes get their call, so even a refusal is recorded."""
    current = state()
    requirement = current.requirement
    if requirement is None or requirement.usage_endpoint is None or current.principal is None:
        return
    current.call = UsageCall(
        endpoint=requirement.usage_endpoint,
        principal=current.principal,
        request_id=current.request_id,
        client_request_id=current.client_request_id,
    )


def finish_request(response: Response) -> Response:
    """after_request: stamp the ids, record the usage call (now, or when a streamed body closes), log once."""
    current = current_state()
    if current is None:  # a failure before the first hook: nothing to record
        return response
    response.headers["X-Request-ID"] = current.client_request_id
    response.headers["X-LLMGateway-Request-ID"] = current.request_id
    streamed = response.is_streamed
    call, ledger, status = current.call, services().ledger, response.status_code
    if call is not None:
        if call.model is None:  # refused before routing: keep the requested model on the record if sane
            call.model = requested_model()
        if not streamed:
            call.finish(ledger, status, current.error_code)
    line = {
        "request_id": current.request_id,
        "client_request_id": current.client_request_id,
        "method": request.method,
        "path": request.path,
        "route": observability.request_route(),
        "status": response.status_code,
        "error_code": current.error_code,
        "key_id": current.principal.key_id if current.principal else None,
    }
    observe = observability.finisher(current.started, current.trace, streamed)

    def body_done() -> None:  # for a streamed body this runs outside the request context
        if call is not None and streamed:
            call.finish(ledger, status, current.error_code)
        _log(line, call)
        observe(line, call)

    if streamed:
        response.response = _ending_with(cast(Iterable[bytes], response.response), body_done)  # our bodies: bytes
    else:
        response.call_on_close(body_done)
    return response


def _ending_with(body: Iterable[bytes], on_end: Callable[[], None]) -> Iterator[bytes]:
    """The streamed body, then `on_end` once it is exhausted or closed (the client went away). The body is closed
    here too: wrapping it hides its close() from the WSGI server (a file response would leak its file)."""
    try:
        yield from body
    finally:
        try:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        finally:
            on_end()


def requested_model() -> str | None:
    """The `model` of an already-parsed JSON body, for records of requests rejected by validation."""
    parsed = request.environ.get("llmgateway.json")
    model = parsed[0].get("model") if parsed and isinstance(parsed[0], dict) else None
    return model[:256] if isinstance(model, str) else None


def _log(line: dict[str, Any], call: UsageCall | None) -> None:
    if call is not None:
        usage = call.usage
        line.update(
            model=call.model,
            provider=call.provider,
            provider_model=call.provider_model,
            status=call.status or line["status"],
            error_code=call.error_code,
            latency_ms=round(call.elapsed_ms(), 2),
            ttft_ms=call.ttft_ms,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached=call.cached,
            fallback_from=call.fallback_from,
        )
    request_logger().info("request", **line)
