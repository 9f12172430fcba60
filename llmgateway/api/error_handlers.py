"""Turns every failure the app can meet into the one error envelope (SPEC §5), in each surface's own shape."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, has_request_context, jsonify, request
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


#: Anthropic's error type for each status the gateway answers with (the statuses themselves are SPEC §5's).
ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def anthropic_error_body(error: GatewayError, request_id: str | None) -> dict[str, Any]:
    """Anthropic's shape `{type: "error", error: {type, message}, request_id}`; its SDK picks the class by status."""
    fallback = "api_error" if error.status >= 500 else "invalid_request_error"
    return {
        "type": "error",
        "error": {"type": ANTHROPIC_ERROR_TYPES.get(error.status, fallback), "message": error.message},
        "request_id": request_id,
    }


#: The error body of each surface, by blueprint name; every other route answers with the gateway's envelope.
SURFACE_ERROR_BODIES: dict[str, Callable[[GatewayError, str | None], dict[str, Any]]] = {
    "anthropic_compat": anthropic_error_body,
}
#: Path prefixes of those surfaces, for errors met before a route matched (404, 405).
SURFACE_PATHS = (("/v1/messages", "anthropic_compat"),)


def error_body(error: GatewayError, request_id: str | None) -> dict[str, Any]:
    """The error body in the shape of the surface the request came to."""
    surface = ""
    if has_request_context():
        surface = request.blueprint or next(
            (name for prefix, name in SURFACE_PATHS if request.path == prefix or request.path.startswith(prefix + "/")),
            "",
        )
    return SURFACE_ERROR_BODIES.get(surface, GatewayError.envelope)(error, request_id)


def render_error(error: GatewayError) -> Response:
    """The error response for a gateway error in its surface's shape, with its headers; notes the code for the
    ledger."""
    current = g.get("llmgateway")
    if current is not None:
        current.error_code = error.code
    response = jsonify(error_body(error, current.request_id if current is not None else None))
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
