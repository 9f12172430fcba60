"""A threaded WSGI server on 127.0.0.1 with scripted faults, shared by every fake provider."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CHAT_PATHS = frozenset({"/v1/chat/completions", "/v1/messages", "/v2/chat"})


@dataclass
class Fault:
    """One scripted misbehaviour, consumed by the next matching request."""

    kind: str  # status | silence | reset | cut_after | error_event | bad_json | delay
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 0  # chunks sent before a stream fault
    seconds: float = 0.0


@dataclass
class Served:
    """What the fake actually served: the ground truth for ledger assertions."""

    path: str
    prompt_tokens: int
    completion_tokens: int
    complete: bool
    cached_tokens: int = 0  # parts of prompt_tokens: read from / written to the provider's prompt cache
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0  # part of completion_tokens


@dataclass
class UsageDetail:
    """Scripted usage detail for the next chat answers; each fake reports it in its provider's own format.

    Counts are capped to what the answer has (cached + writes <= its prompt, reasoning <= its completion), so a
    fake never claims more cached or reasoning tokens than it served.
    """

    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0
    cache_write_1h: int = 0  # Anthropic only: the part of the cache writes made with the one-hour TTL

    def of(self, prompt: int, completion: int) -> tuple[int, int, int]:
        cached = min(self.cached, prompt)
        return cached, min(self.cache_write, prompt - cached), min(self.reasoning, completion)


class FakeServer:
    """Base class: subclasses implement `handle(request, fault)` returning a werkzeug Response."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.served: list[Served] = []
        self.faults: deque[Fault] = deque()
        self.closed_streams = 0
        self.chunk_delay = 0.0
        self.first_byte_delay = 0.0
        self.detail = UsageDetail()
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.headers_seen.clear()
            self.served.clear()
            self.faults.clear()
            self.closed_streams = 0
        self.chunk_delay = 0.0
        self.first_byte_delay = 0.0
        self.detail = UsageDetail()
        vars(self).pop("reply_text", None)  # a test's reply_text must not leak into the next test

    def push(self, kind: str, **kwargs: Any) -> None:
        """Script the next request's fault."""
        self.faults.append(Fault(kind, **kwargs))

    def record(self, path: str, prompt: int, completion: int, complete: bool = True) -> None:
        detail = self.served_detail(prompt, completion) if path in CHAT_PATHS else (0, 0, 0)
        with self._lock:
            self.served.append(Served(path, prompt, completion, complete, *detail))

    def served_detail(self, prompt: int, completion: int) -> tuple[int, int, int]:
        """(cached, cache-write, reasoning) tokens of a chat answer with these counts."""
        return self.detail.of(prompt, completion)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        with self._lock:
            self.requests.append({"path": request.path, "json": payload, "method": request.method, "raw": body})
            self.headers_seen.append({k.lower(): v for k, v in request.headers.items()})
            fault = self.faults.popleft() if self.faults else None
        if fault is not None:
            if fault.kind == "status":
                response = json_response(fault.body, fault.status, fault.headers)
                return response(environ, start_response)
            if fault.kind == "silence":
                time.sleep(fault.seconds or 30)
                return json_response({"late": True}, 200)(environ, start_response)
            if fault.kind == "reset":
                hard_close(environ)
                return []
            if fault.kind == "delay":
                time.sleep(fault.seconds)
                fault = None
        response = self.handle(request, payload, fault, environ)
        return response(environ, start_response)

    def handle(self, request: Request, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        raise NotImplementedError

    def stream(self, events: Iterator[bytes], environ: dict[str, Any]) -> Iterator[bytes]:
        """Wrap an event generator so a closed client socket is noticed and counted."""
        try:
            if self.first_byte_delay:
                time.sleep(self.first_byte_delay)
            yield from events
        except (GeneratorExit, OSError):
            with self._lock:
                self.closed_streams += 1
            raise


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return Response(data, status=status, headers=headers or {}, content_type="application/json")


def sse_response(generator: Iterator[bytes], headers: dict[str, str] | None = None) -> Response:
    response = Response(generator, status=200, headers=headers or {}, content_type="text/event-stream")
    return response


def hard_close(environ: dict[str, Any]) -> None:
    """Reset the client connection (RST) from inside a WSGI handler."""
    sock: socket.socket | None = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def count_tokens(text: str) -> int:
    """The fakes' tokenizer: whitespace words (deterministic, so tests can predict usage)."""
    return max(1, len(text.split()))
