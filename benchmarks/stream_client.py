"""Opens N concurrent SSE streams (gevent, raw sockets) against one URL and reports on them.

Each stream: connect, send one POST (HTTP/1.1, Connection: close), read the response until the
chunked terminator / Content-Length / close. Measured per stream, from just before connect:
time to the first SSE event (first block ending in a blank line), total duration, event count,
whether `data: [DONE]` was seen, and, when the fake upstream stamps its chunks (`/_fake/config?stamp=1`: content
`t=<time.monotonic() when sent>;`), each chunk's relay delay: when it arrived here minus when the upstream sent
it (same machine, same monotonic clock), for every stamped chunk after a stream's first one.
Everything is bounded by --timeout (whole run) and stops by itself.

Prints one JSON object on stdout (and writes it to --json if given).

Usage:
  python stream_client.py --url http://127.0.0.1:18080/v1/chat/completions --streams 200 \
      --body '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
      --header 'Authorization: Bearer sk-x' --timeout 60
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402
from gevent import socket  # noqa: E402
from gevent.pool import Pool  # noqa: E402

LOOPBACK = ("127.0.0.1", "localhost", "::1")
STAMP = re.compile(rb"t=(\d+\.\d+);")


def raise_nofile(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Result:
    __slots__ = ("delays", "done", "duration", "error", "events", "first_event", "max_gap", "ok", "status")

    def __init__(self) -> None:
        self.ok = False
        self.error: str | None = None
        self.status = 0
        self.first_event: float | None = None
        self.duration: float | None = None
        self.events = 0
        self.done = False
        self.max_gap = 0.0
        self.delays: list[float] = []  # relay delay (s) of each stamped chunk after the first


def one_stream(host: str, port: int, request: bytes, connect_timeout: float, res: Result) -> None:
    t0 = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except OSError as e:
        res.error = "connect:" + type(e).__name__
        return
    try:
        sock.settimeout(None)  # the whole run is bounded by the caller's timeout
        sock.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                res.error = "closed_before_headers"
                return
            buf += data
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        try:
            res.status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            res.error = "bad_status_line"
            return
        chunked = False
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"content-length":
                length = int(value.strip())
        if res.status != 200:
            res.error = "status_%d" % res.status
            return

        body = b""  # decoded body not yet split into events
        raw = buf  # undecoded bytes (chunked framing)
        received = 0
        finished = False
        last_event_t = None
        stamped = 0

        def take_events(now: float) -> None:
            nonlocal body, last_event_t, stamped
            b = body.replace(b"\r\n", b"\n") if b"\r" in body else body
            parts = b.split(b"\n\n")
            body = parts.pop()
            for ev in parts:
                if not ev.strip():
                    continue
                res.events += 1
                if res.first_event is None:
                    res.first_event = now - t0
                if last_event_t is not None:
                    res.max_gap = max(res.max_gap, now - last_event_t)
                last_event_t = now
                if b"[DONE]" in ev:
                    res.done = True
                stamp = STAMP.search(ev)
                if stamp is not None:
                    if stamped:
                        res.delays.append(time.monotonic() - float(stamp.group(1)))
                    stamped += 1

        while True:
            now = time.perf_counter()
            if chunked:
                # decode as many complete chunks as there are in raw
                while True:
                    nl = raw.find(b"\r\n")
                    if nl < 0:
                        break
                    size = int(raw[:nl].split(b";")[0], 16)
                    if size == 0:
                        finished = True
                        break
                    if len(raw) < nl + 2 + size + 2:
                        break
                    body += raw[nl + 2 : nl + 2 + size]
                    raw = raw[nl + 2 + size + 2 :]
            else:
                body += raw
                received += len(raw)
                raw = b""
                if length is not None and received >= length:
                    finished = True
            take_events(now)
            if finished:
                break
            data = sock.recv(65536)
            if not data:
                if chunked or length is not None:
                    res.error = "closed_mid_stream"
                    return
                finished = True
                break
            raw += data
        if body.strip():  # a last event without its blank line
            body += b"\n\n"
            take_events(time.perf_counter())
        res.duration = time.perf_counter() - t0
        if res.events == 0:
            res.error = "no_events"
            return
        res.ok = True
    except OSError as e:
        res.error = "io:" + type(e).__name__
    finally:
        try:
            sock.close()
        except OSError:
            pass


def run(
    url: str, body: str, headers: list[str], streams: int, timeout: float, connect_timeout: float, ramp_s: float = 0.0
) -> dict:
    u = urlsplit(url)
    host, port = u.hostname, u.port or 80
    if host not in LOOPBACK:
        raise SystemExit("stream client targets loopback only")
    path = (u.path or "/") + (("?" + u.query) if u.query else "")
    data = body.encode()
    req = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: text/event-stream",
        "Connection: close",
        f"Content-Length: {len(data)}",
    ]
    req += headers
    request = ("\r\n".join(req) + "\r\n\r\n").encode() + data
    nofile = raise_nofile(streams + 512)
    results = [Result() for _ in range(streams)]
    pool = Pool(streams)
    t_start = time.perf_counter()
    deadline = t_start + timeout
    for i, r in enumerate(results):
        if ramp_s:  # start i at t_start + i * ramp_s / streams
            delay = t_start + i * ramp_s / streams - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
        pool.spawn(one_stream, host, port, request, connect_timeout, r)
        if time.perf_counter() > deadline:
            break
    pool.join(timeout=max(0.0, deadline - time.perf_counter()))
    timed_out = len(pool)
    pool.kill(block=True, timeout=5)
    wall = time.perf_counter() - t_start
    for r in results:
        if not r.ok and r.error is None:
            r.error = "timeout"
    ok = [r for r in results if r.ok]
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            errors[r.error or "unknown"] = errors.get(r.error or "unknown", 0) + 1
    fe = [r.first_event * 1000 for r in ok if r.first_event is not None]
    du = [r.duration * 1000 for r in ok if r.duration is not None]
    gaps = [r.max_gap * 1000 for r in ok]
    delays = [d * 1000 for r in results for d in r.delays]
    return {
        "url": url,
        "streams": streams,
        "completed": len(ok),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "timed_out": timed_out,
        "saw_done": sum(1 for r in ok if r.done),
        "events_mean": (sum(r.events for r in ok) / len(ok)) if ok else None,
        "first_event_ms": {
            "p50": percentile(fe, 50),
            "p90": percentile(fe, 90),
            "p99": percentile(fe, 99),
            "max": max(fe) if fe else None,
        },
        "duration_ms": {"p50": percentile(du, 50), "p99": percentile(du, 99), "max": max(du) if du else None},
        "max_gap_ms": {"p50": percentile(gaps, 50), "p99": percentile(gaps, 99)},
        "events_total": sum(r.events for r in results),
        "relay_delay_ms": {
            "chunks": len(delays),
            "p50": percentile(delays, 50),
            "p90": percentile(delays, 90),
            "p99": percentile(delays, 99),
            "max": max(delays) if delays else None,
        },
        "ramp_s": ramp_s,
        "wall_s": wall,
        "nofile": nofile,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="concurrent SSE stream client")
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True, help="JSON request body")
    p.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    p.add_argument("--streams", type=int, default=200)
    p.add_argument("--timeout", type=float, default=60.0, help="bound on the whole run, seconds")
    p.add_argument("--connect-timeout", type=float, default=15.0)
    p.add_argument("--ramp-s", type=float, default=0.0, help="spread the stream starts evenly over this time")
    p.add_argument("--json", help="also write the result here")
    a = p.parse_args(argv)
    out = run(a.url, a.body, a.header, a.streams, a.timeout, a.connect_timeout, a.ramp_s)
    text = json.dumps(out, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
