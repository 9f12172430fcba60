"""A misbehaving upstream cannot grow a stream's buffers without end: over-long lines and events are refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from llmgateway.errors import ServerError
from llmgateway.providers import http, sse
from llmgateway.providers.http import HttpTransport
from llmgateway.providers.sse import parse_sse

MEGABYTE = b"x" * (1024 * 1024)


@pytest.fixture
def endless_line_upstream() -> Iterator[str]:
    """Streams `data: xxxx…` for 6 MB without a newline, then `\\n\\n` and closes."""

    def app(environ, start_response):
        def body():
            yield b"data: "
            for _ in range(6):
                yield MEGABYTE
            yield b"\n\n"

        return Response(body(), mimetype="text/event-stream")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/stream"
    server.shutdown()


def test_a_line_longer_than_the_bound_ends_the_stream_with_an_upstream_error(endless_line_upstream):
    stream = HttpTransport().open_stream(endless_line_upstream, {"stream": True})
    with pytest.raises(ServerError, match="over-long line"):
        for _ in stream.lines():
            pass
    stream.close()
    assert 6 * len(MEGABYTE) > http.MAX_LINE_BYTES  # the upstream really sent more than the bound


def test_an_event_gathering_too_much_data_is_refused():
    lines = [b"data: " + MEGABYTE for _ in range(sse.MAX_EVENT_BYTES // len(MEGABYTE) + 1)]
    with pytest.raises(ServerError, match="over-long event"):
        list(parse_sse(iter(lines)))
    # Up to the bound the same lines make one event.
    fitting = [*lines[: sse.MAX_EVENT_BYTES // len(MEGABYTE)], b""]
    [event] = list(parse_sse(iter(fitting)))
    assert len(event.data) == sse.MAX_EVENT_BYTES + len(fitting) - 2
