"""A very fast fake OpenAI upstream for benchmarks.

Raw gevent StreamServer with a minimal HTTP/1.1 parser (keep-alive, Content-Length bodies,
chunked streaming responses), so that it is not the bottleneck of a benchmark.

Endpoints (with or without the /v1 prefix):
  POST /v1/chat/completions   plain JSON (OpenAI shape, with usage) or, with "stream": true, SSE
                              `data: {chunk}` events (tool-call deltas of two parallel calls instead of
                              text when the request has `tools`), a usage chunk with choices [] when
                              stream_options.include_usage, then `data: [DONE]`.
  POST /v1/embeddings         OpenAI embeddings shape, small vectors.
  GET  /_fake/config?latency_ms=&chunks=&chunk_ms=&stamp=   change the behaviour at run time (answers the config);
                              stamp=1: each streamed content piece is `t=<time.monotonic() when sent>;`, so a
                              client on this machine can tell how late each chunk reached it (the relay delay)
  GET  /_fake/stats           request counters
  GET  /health                "ok"

Any Authorization header and any model are accepted.

Usage: python fake_upstream.py --port 18080 --latency-ms 0 --chunks 20 --chunk-ms 100
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

CONFIG = {"latency_ms": 0.0, "chunks": 20, "chunk_ms": 100.0, "embedding_dim": 8, "stamp": 0}
STATS = {"connections": 0, "requests": 0, "chat": 0, "chat_stream": 0, "embeddings": 0, "streams_open": 0, "errors": 0}
MAX_HEADER = 64 * 1024
MAX_BODY = 8 * 1024 * 1024
REPLY_WORDS = ["Hello", " from", " the", " fake", " upstream", "!"]

REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed", 413: b"Payload Too Large"}


def _head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, REASONS.get(status, b"X"))]
    lines += [k + b": " + v for k, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _json_response(status: int, obj: object, keep_alive: bool) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    headers = [
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(len(body)).encode()),
        (b"openai-processing-ms", b"1"),
        (b"x-request-id", b"req_fake"),
    ]
    if not keep_alive:
        headers.append((b"Connection", b"close"))
    return _head(status, headers) + body


def _error(status: int, message: str, keep_alive: bool) -> bytes:
    return _json_response(
        status,
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}},
        keep_alive,
    )


def _count_tokens(messages: object) -> int:
    n = 0
    if isinstance(messages, list):
        for m in messages:
            c = m.get("content") if isinstance(m, dict) else None
            if isinstance(c, str):
                n += max(1, len(c) // 4)
    return n + 7


def _sleep_ms(ms: float) -> None:
    if ms > 0:
        gevent.sleep(ms / 1000.0)


def chat_plain(payload: dict, keep_alive: bool) -> bytes:
    prompt = _count_tokens(payload.get("messages"))
    limit = payload.get("max_tokens") or payload.get("max_completion_tokens") or len(REPLY_WORDS)
    words = REPLY_WORDS[: max(1, min(int(limit), len(REPLY_WORDS)))]
    completion = len(words)
    return _json_response(
        200,
        {
            "id": "chatcmpl-fake%d" % STATS["requests"],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model", "gpt-4o-mini"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(words), "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop" if completion == len(REPLY_WORDS) else "length",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        },
        keep_alive,
    )


def _chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunked-encoding frame."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _tool_call_choice(i: int, chunks: int) -> str:
    """Chunk i of a two-call tool answer: each call's first chunk carries index, id, type and name; the rest
    carry argument fragments (`{"city": "Paris", "n": 1, …}` cut in pieces), as OpenAI streams them."""
    half = max(1, chunks // 2)
    call, step = (0, i) if i < half else (1, i - half)
    if step == 0:
        piece = '{"index":%d,"id":"call_fake%d","type":"function","function":{"name":"get_weather","arguments":""}}' % (
            call,
            call,
        )
    else:
        fragment = '{"city": "Paris"' if step == 1 else ', "n%d": %d' % (step, step)
        if i in (half - 1, chunks - 1):
            fragment += "}"
        piece = '{"index":%d,"function":{"arguments":%s}}' % (call, json.dumps(fragment))
    return '[{"index":0,"delta":{"tool_calls":[%s]},"logprobs":null,"finish_reason":null}]' % piece


def chat_stream(
    sock, payload: dict, keep_alive: bool, chunks: int, chunk_ms: float, chunked: bool = True, stamp: bool = False
) -> bool:
    """Writes an SSE stream (chunked for HTTP/1.1, close-delimited for HTTP/1.0); returns keep-alive."""
    frame = _chunk if chunked else (lambda data: data)
    keep_alive = keep_alive and chunked
    model = payload.get("model", "gpt-4o-mini")
    include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    prompt = _count_tokens(payload.get("messages"))
    created = int(time.time())
    prefix = (
        '{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":%d,"model":%s,'
        '"system_fingerprint":"fp_fake","choices":' % (created, json.dumps(model))
    ).encode()

    def event(choices: str, usage: str = "null") -> bytes:
        return b"data: " + prefix + choices.encode() + b',"usage":' + usage.encode() + b"}\n\n"

    headers = [
        (b"Content-Type", b"text/event-stream; charset=utf-8"),
        (b"Cache-Control", b"no-cache"),
        (b"x-request-id", b"req_fake"),
    ]
    if chunked:
        headers.append((b"Transfer-Encoding", b"chunked"))
    if not keep_alive:
        headers.append((b"Connection", b"close"))
    first = event(
        '[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]'
    )
    STATS["streams_open"] += 1
    try:
        # headers and the role chunk go out together, at first-byte time
        sock.sendall(_head(200, headers) + frame(first))
        tools = bool(payload.get("tools"))
        for i in range(chunks):
            if i:
                _sleep_ms(chunk_ms)
            if tools:
                sock.sendall(frame(event(_tool_call_choice(i, chunks))))
                continue
            word = "t=%.6f;" % time.monotonic() if stamp else REPLY_WORDS[i % len(REPLY_WORDS)]
            sock.sendall(
                frame(
                    event(
                        '[{"index":0,"delta":{"content":%s},"logprobs":null,"finish_reason":null}]' % json.dumps(word)
                    )
                )
            )
        finish = "tool_calls" if tools else "stop"
        tail = event('[{"index":0,"delta":{},"logprobs":null,"finish_reason":"%s"}]' % finish)
        if include_usage:
            tail += event(
                "[]",
                '{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
                '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
                '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
                '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}' % (prompt, chunks, prompt + chunks),
            )
        tail += b"data: [DONE]\n\n"
        sock.sendall(frame(tail) + (b"0\r\n\r\n" if chunked else b""))
    finally:
        STATS["streams_open"] -= 1
    return keep_alive


def embeddings(payload: dict, keep_alive: bool) -> bytes:
    inputs = payload.get("input")
    if not isinstance(inputs, list):
        inputs = [inputs]
    dim = CONFIG["embedding_dim"]
    data = [
        {"object": "embedding", "index": i, "embedding": [0.01 * ((i + j) % 100) for j in range(dim)]}
        for i in range(len(inputs))
    ]
    tokens = sum(max(1, len(x) // 4) if isinstance(x, str) else 1 for x in inputs)
    return _json_response(
        200,
        {
            "object": "list",
            "data": data,
            "model": payload.get("model", "text-embedding-3-small"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        keep_alive,
    )


def control(path: str, query: str, keep_alive: bool) -> bytes:
    if path == "/_fake/config":
        for k, vs in parse_qs(query).items():
            if k in CONFIG:
                CONFIG[k] = type(CONFIG[k])(float(vs[-1])) if isinstance(CONFIG[k], int) else float(vs[-1])
        return _json_response(200, CONFIG, keep_alive)
    if path == "/_fake/stats":
        return _json_response(200, STATS, keep_alive)
    return _json_response(200, {"status": "ok"}, keep_alive)


def handle(sock, _addr) -> None:
    STATS["connections"] += 1
    buf = b""
    try:
        while True:
            # read the header block
            while b"\r\n\r\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                if len(buf) > MAX_HEADER and b"\r\n\r\n" not in buf:
                    return
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            try:
                method, target, version = lines[0].split(b" ", 2)
            except ValueError:
                sock.sendall(_error(400, "bad request line", False))
                return
            length = 0
            keep_alive = version == b"HTTP/1.1"
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"connection":
                    v = value.strip().lower()
                    if v == b"close":
                        keep_alive = False
                    elif v == b"keep-alive":
                        keep_alive = True
                elif name == b"expect" and value.strip().lower() == b"100-continue":
                    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                elif name == b"transfer-encoding":
                    sock.sendall(_error(400, "chunked request bodies are not supported", False))
                    return
            if length > MAX_BODY:
                sock.sendall(_error(413, "body too large", False))
                return
            while len(buf) < length:
                data = sock.recv(max(65536, length - len(buf)))
                if not data:
                    return
                buf += data
            body, buf = buf[:length], buf[length:]
            STATS["requests"] += 1
            url = urlsplit(target.decode("latin-1"))
            path = url.path.rstrip("/")
            if path.startswith("/v1/"):
                path = path[3:]
            if method == b"GET":
                sock.sendall(control(url.path, url.query, keep_alive))
            elif method != b"POST":
                sock.sendall(_error(405, "method not allowed", keep_alive))
            else:
                try:
                    payload = json.loads(body) if body else {}
                    if not isinstance(payload, dict):
                        raise ValueError("not an object")
                except ValueError:
                    STATS["errors"] += 1
                    sock.sendall(_error(400, "We could not parse the JSON body of your request.", keep_alive))
                    payload = None
                if payload is not None:
                    cfg_latency, chunks, chunk_ms = CONFIG["latency_ms"], int(CONFIG["chunks"]), CONFIG["chunk_ms"]
                    if path == "/chat/completions":
                        _sleep_ms(cfg_latency)
                        if payload.get("stream"):
                            STATS["chat_stream"] += 1
                            keep_alive = chat_stream(
                                sock,
                                payload,
                                keep_alive,
                                chunks,
                                chunk_ms,
                                chunked=version == b"HTTP/1.1",
                                stamp=bool(CONFIG["stamp"]),
                            )
                        else:
                            STATS["chat"] += 1
                            sock.sendall(chat_plain(payload, keep_alive))
                    elif path == "/embeddings":
                        STATS["embeddings"] += 1
                        _sleep_ms(cfg_latency)
                        sock.sendall(embeddings(payload, keep_alive))
                    else:
                        STATS["errors"] += 1
                        sock.sendall(_error(404, "Unknown request URL: %s" % url.path, keep_alive))
            if not keep_alive:
                return
    except (ConnectionError, OSError):
        return
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18080)
    p.add_argument("--latency-ms", type=float, default=0.0, help="time to first byte")
    p.add_argument("--chunks", type=int, default=20, help="content chunks per stream")
    p.add_argument("--chunk-ms", type=float, default=100.0, help="spacing between stream chunks")
    p.add_argument("--backlog", type=int, default=4096)
    p.add_argument("--max-lifetime", type=float, default=6 * 3600, help="exit after this many seconds (safety)")
    a = p.parse_args(argv)
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("fake upstream binds to loopback only")
    CONFIG.update(latency_ms=a.latency_ms, chunks=a.chunks, chunk_ms=a.chunk_ms)
    server = StreamServer((a.host, a.port), handle, backlog=a.backlog)
    server.init_socket()
    print(f"fake upstream pid {os.getpid()} on http://{a.host}:{server.server_port}", flush=True)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    gevent.signal_handler(signal.SIGINT, server.stop)
    gevent.spawn_later(a.max_lifetime, server.stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
