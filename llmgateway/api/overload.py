"""Overload refusal in Flask: a before_request hook takes the worker's in-flight slot or answers 503 at once, and
a WSGI wrapper gives the slot back when the response body is closed (a stream holds it until its end)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import g, request

from llmgateway.core.overload import InFlightLimit
from llmgateway.errors import Overloaded
from llmgateway.services import services

ADMITTED = "llmgateway.in_flight_slot"
#: The refusal asks clients to come back after this many seconds (the slots of short requests free up fast).
RETRY_AFTER = 1.0
IN_FLIGHT_EXTRA = "in_flight"


def refuse_when_overloaded() -> None:
    """before_request hook, after authentication (so the refusal is recorded with its key): authenticated
    requests beyond the worker's bound get 503 + Retry-After without any upstream or database work."""
    if g.llmgateway.principal is None:
        return  # public routes (health, metrics, docs) and refused credentials are never held back
    limit: InFlightLimit = services().extras[IN_FLIGHT_EXTRA]
    if not limit.admit():
        services().metrics.overload_refused()
        raise Overloaded(retry_after=RETRY_AFTER)
    request.environ[ADMITTED] = limit


class ReleaseInFlight:
    """WSGI wrapper: the slot an admitted request took is given back when the server closes its response
    (WSGI servers always close it: at the body's end, on a client disconnect, or after an error)."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            body = self.wsgi_app(environ, start_response)
        except BaseException:
            _release(environ)
            raise
        return _ReleasingBody(body, environ)


class _ReleasingBody:
    """The app's body, iterated as it is (no wrapper frame per chunk); `close()`, which WSGI servers call on
    the object the app returned, closes it and then gives the slot back."""

    __slots__ = ("_body", "_environ")

    def __init__(self, body: Iterable[bytes], environ: dict[str, Any]) -> None:
        self._body = body
        self._environ = environ

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            _release(self._environ)


def _release(environ: dict[str, Any]) -> None:
    limit = environ.pop(ADMITTED, None)
    if limit is not None:
        limit.release()
