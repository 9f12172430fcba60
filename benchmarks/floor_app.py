"""The stack's floor: a bare Flask proxy under the gateway's server stack (gunicorn, 2 gevent workers, requests).

It forwards the OpenAI chat body to the fake upstream with a pooled `requests.Session` and relays the answer
(streams as raw bytes), with no auth, limits, breaker, ledger, logging or metrics. What it costs per request
is what Flask + gunicorn/gevent + requests cost before the gateway does anything; benchmarks/run.py measures
it as the `floor` target: `gunicorn -k gevent -w 2 benchmarks.floor_app:app` with FLOOR_UPSTREAM set.
"""

from __future__ import annotations

import os

import requests
from flask import Flask, Response, request

UPSTREAM = os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:8081/v1").rstrip("/")

app = Flask(__name__)
session = requests.Session()
session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=1000))


@app.post("/v1/chat/completions")
def chat() -> Response:
    body = request.get_json()
    upstream = session.post(f"{UPSTREAM}/chat/completions", json=body, stream=bool(body.get("stream")),
                            timeout=(5, 120))
    if not body.get("stream"):
        return Response(upstream.content, upstream.status_code, content_type="application/json")

    def relay():
        try:
            while chunk := upstream.raw.read1(65536):
                yield chunk
        finally:
            upstream.close()

    return Response(relay(), upstream.status_code, content_type="text/event-stream")


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}
