"""The stack's floor: a bare Flask proxy on the gateway's server stack and upstream client.

It forwards the OpenAI chat body to the fake upstream through the gateway's own upstream client
(`llmgateway.providers.http.HttpTransport`: requests' `HTTPAdapter` with the same pool settings, prepared
requests, orjson bodies and timeouts) and relays the answer (streams as the raw bytes each read returns), with
no auth, limits, breaker, ledger, logging or metrics. So "gateway minus floor" is what the gateway's own
features cost. benchmarks/run.py measures it as the `floor` target:
`gunicorn -k gevent -w 2 benchmarks.floor_app:app` with FLOOR_UPSTREAM set and the gateway on PYTHONPATH.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import orjson
from flask import Flask, Response, request

from llmgateway.providers.http import READ_CHUNK, HttpTransport

UPSTREAM = os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:8081/v1").rstrip("/")
CHAT_URL = f"{UPSTREAM}/chat/completions"

app = Flask(__name__)
# The gateway's defaults for a provider: 120 s timeout, 5 s connect, 60 s idle between stream chunks, 1000
# pooled connections (llmgateway/providers/base.py ProviderSettings).
transport = HttpTransport(timeout=120.0, connect_timeout=5.0, stream_idle_timeout=60.0)


@app.post("/v1/chat/completions")
def chat() -> Response:
    body = orjson.loads(request.get_data())
    if not body.get("stream"):
        reply = transport.post(CHAT_URL, body)
        return Response(reply.body, reply.status, content_type="application/json")
    upstream = transport.open_stream(CHAT_URL, body)
    raw = upstream._response.raw  # the bytes as they arrive, no SSE parsing: a byte-for-byte relay

    def relay() -> Iterator[bytes]:
        try:
            while chunk := raw.read1(READ_CHUNK):
                yield chunk
        finally:
            upstream.close()

    return Response(relay(), upstream.status, content_type="text/event-stream")


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}
