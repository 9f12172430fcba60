"""CPU per relayed chunk of the gateway's own stream path against the floor's, without sockets.

Feeds the real relay chain (UpstreamStream.lines → SSE parsing → the OpenAI provider's deltas → the executor's
watched stream → the abortable stream → CompletionStream → sse_stream → the lifecycle's body wrapper, and the
WSGI wrappers around it) with an upstream whose every read returns one SSE event, as a slow model's stream
arrives, and times it against the floor's relay (the same reads yielded as they are). What both share (the
socket reads and writes, gevent, gunicorn) is left out, so the difference is exactly what the gateway adds per
chunk. CPU time (process_time), best of --repeat rounds.

  python benchmarks/chunk_path.py --chunks 200000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.wsgi import ClosingIterator

from llmgateway.api import lifecycle
from llmgateway.api.overload import _ReleasingBody
from llmgateway.api.rendering import sse_stream
from llmgateway.core.completion_stream import CompletionStream
from llmgateway.core.executor import WatchedStream
from llmgateway.core.open_streams import OpenStreams
from llmgateway.core.results import StreamStart
from llmgateway.core.usage import UsageCall
from llmgateway.providers.base import ProviderSettings
from llmgateway.providers.http import UpstreamStream
from llmgateway.providers.openai import OpenAIProvider
from llmgateway.providers.types import ChatStream, Usage

PREFIX = (
    b'data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1765000000,"model":"gpt-4o-mini",'
    b'"system_fingerprint":"fp_fake","choices":'
)


def upstream_events(chunks: int) -> list[bytes]:
    events = [
        PREFIX + b'[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,'
        b'"finish_reason":null}],"usage":null}\n\n'
    ]
    events += [
        PREFIX + b'[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    ] * chunks
    events.append(
        PREFIX
        + b'[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n'
        + PREFIX
        + b'[],"usage":{"prompt_tokens":8,"completion_tokens":20,"total_tokens":28}}\n\n'
        + b"data: [DONE]\n\n"
    )
    return events


class OneEventPerRead:
    """A urllib3 response stand-in: each read1 returns the next event, as a slow model's chunks arrive."""

    def __init__(self, events: list[bytes]) -> None:
        self._events = iter(events)
        self.status_code = 200
        self.headers: dict[str, str] = {}
        self.raw = self

    def read1(self, _size: int) -> bytes:
        return next(self._events, b"")

    def close(self) -> None:
        pass


def gateway_body(events: list[bytes]) -> Iterator[bytes]:
    provider = OpenAIProvider(ProviderSettings(api_key="sk-x", base_url="http://127.0.0.1:9/v1"))
    upstream = UpstreamStream(OneEventPerRead(events))  # type: ignore[arg-type]
    stream = ChatStream(iter(()), close=upstream.close)
    stream._deltas = provider._relay(upstream, stream)
    watched = WatchedStream(stream, lambda exc: None)
    tracked = OpenStreams().track(watched)
    call = UsageCall(endpoint="completion_stream", principal=None)
    start = StreamStart(
        id="chatcmpl-x",
        created=1,
        model="openai.gpt-4o-mini",
        provider="openai",
        provider_model="gpt-4o-mini",
        fallback_from=None,
    )

    def settle(reported: Usage, *_: Any) -> Usage:
        return reported.priced(0.0)

    completion = CompletionStream(call, start, tracked, 8, settle)  # type: ignore[arg-type]
    body = lifecycle._ending_with(sse_stream(completion, call.request_id), lambda: None)
    # Flask's response iterator, as gunicorn iterates it (api/overload.py's wrapper adds no frame per chunk)
    return iter(_ReleasingBody(ClosingIterator(body), {}))


def floor_body(events: list[bytes]) -> Iterator[bytes]:
    raw = OneEventPerRead(events)

    def relay() -> Iterator[bytes]:
        while chunk := raw.read1(65536):
            yield chunk

    return iter(ClosingIterator(relay()))


def timed(make: Any, streams: int, chunks: int) -> tuple[float, int]:
    events = upstream_events(chunks)
    bodies = [make(events) for _ in range(streams)]
    written = 0
    t0 = time.process_time()
    for body in bodies:
        for piece in body:
            written += len(piece)
    return time.process_time() - t0, written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chunks", type=int, default=200000, help="chunks per round (in streams of 100)")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    per_stream = 100
    streams = max(1, a.chunks // per_stream)
    n = streams * (per_stream + 2)
    for name, make in (("floor", floor_body), ("gateway", gateway_body)):
        best = min(timed(make, streams, per_stream)[0] for _ in range(a.repeat))
        print(f"{name}: {1e6 * best / n:.2f} µs CPU per chunk ({n} chunks, best of {a.repeat})")


if __name__ == "__main__":
    main()
