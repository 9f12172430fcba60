"""Turns every failure the app can meet into the one error envelope (SPEC §5)."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from llmgateway.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RateLimitExceeded,
    RequestTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)

log = logging.getLogger("llmgateway.errors")

_BY_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: RequestTooLarge,
    415: UnsupportedMediaType,
    422: InvalidRequest,
    429: RateLimitExceeded,
    503: ServiceUnavailable,
}


def render_error(error: GatewayError) -> Response:
    """The envelope response for a gateway error, with its headers; notes the code for the ledger."""
    current = g.get("llmgateway")
    if current is not None:
        current.error_code = error.code
    response = jsonify(error.envelope(current.request_id if current is not None else None))
    response.status_code = error.status
    for name, value in error.response_headers().items():
        response.headers[name] = value
    return response


def from_http_exception(exc: HTTPException) -> GatewayError:
    """A gateway error for a werkzeug/Flask-level HTTP error (routing, size, limiter)."""
    cls = _BY_STATUS.get(exc.code or 500)
    if cls is None:
        cls = InvalidRequest if (exc.code or 500) < 500 else InternalError
    message = None
    if cls is RateLimitExceeded and exc.description:
        message = f"Rate limit exceeded: {exc.description}"
    elif cls is InvalidRequest and isinstance(exc.description, str):
        message = exc.description
    return cls(message)


def handle_http_exception(exc: HTTPException) -> Response:
    response = render_error(from_http_exception(exc))
    original = exc.get_response()
    for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Allow"):
        if name in original.headers:
            response.headers[name] = original.headers[name]
    return response


def handle_unexpected(exc: Exception) -> Response:
    current = g.get("llmgateway")
    log.exception("unhandled error", extra={"request_id": current.request_id if current is not None else None})
    return render_error(InternalError())


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(GatewayError, render_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
