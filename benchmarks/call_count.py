"""Python function calls the gateway makes per request and per relayed chunk: a deterministic before/after measure.

Wall-clock numbers on a shared machine are noisy; the number of Python calls (cProfile's count) for the same
request is not. This builds the app in-process (full pipeline on PostgreSQL and Redis, as benchmarks/run.py
configures it), starts benchmarks/fake_upstream.py, warms up, then counts calls for N plain completions, N streams
of --chunks chunks and N streams of 6x as many (the difference gives the calls per chunk), and prints the
functions with the most calls. The in-process WSGI test client stands in for gunicorn (the same for every
version measured). Also prints CPU µs per request without the profiler (noisy, for direction only).

  python benchmarks/call_count.py --requests 200 --top 25
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

KEY = "gw_bench_3b9f0c1d2e4a4f6b8c7d9e0f1a2b3c4d"
BODY = {
    "model": "openai.gpt-4o-mini",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 16,
    "temperature": 0.7,
}


def fake_upstream(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fake_upstream.py"), "--port", str(port), "--chunk-ms", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("fake upstream did not start")


def set_chunks(port: int, chunks: int) -> None:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/config?chunks={chunks}&chunk_ms=0", timeout=2).read()


def build_app(port: int, db: str, redis_url: str):
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c"]
    subprocess.run(psql + [f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], check=True)
    subprocess.run(psql + [f'CREATE DATABASE "{db}"'], check=True)
    subprocess.run(["redis-cli", "-u", redis_url, "FLUSHDB"], check=True, stdout=subprocess.DEVNULL)
    from llmgateway import create_app

    return create_app(
        {
            "providers": {"openai": {"base_url": f"http://127.0.0.1:{port}/v1", "api_key": "sk-bench"}},
            "api_keys": [
                {
                    "key": KEY,
                    "owner": "bench",
                    "permissions": ["completion", "embedding", "admin"],
                    "rate_limit": "100000000/minute",
                }
            ],
            "database": {"url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"},
            "secret_key": "bench-pepper-" + "x" * 40,
            "jwt": {"secret": "bench-jwt-secret-" + "y" * 40},
            "redis": {"url": redis_url},
        }
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--chunks", type=int, default=20)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--port", type=int, default=18931)
    p.add_argument("--db", default="llmgw_callcount")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    a = p.parse_args()
    fake = fake_upstream(a.port)
    try:
        app = build_app(a.port, a.db, a.redis)
        client = app.test_client()
        headers = {"X-API-Key": KEY}

        def plain() -> None:
            r = client.post("/api/v1/completion", json=BODY, headers=headers)
            assert r.status_code == 200, r.data
            r.close()  # as a WSGI server does: the lifecycle logs and observes the request on close

        def stream() -> None:
            r = client.post("/api/v1/completion/stream", json=BODY, headers=headers)
            assert r.status_code == 200 and r.data.endswith(b"[DONE]\n\n"), r.data[-300:]
            r.close()

        def count(fn, n: int, label: str, chunks: int) -> tuple[int, pstats.Stats]:
            set_chunks(a.port, chunks)
            for _ in range(20):
                fn()
            t0 = time.process_time()
            for _ in range(n):
                fn()
            cpu_us = 1e6 * (time.process_time() - t0) / n
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(n):
                fn()
            prof.disable()
            stats = pstats.Stats(prof)
            calls = stats.total_calls // n  # type: ignore[attr-defined]
            print(f"{label}: {calls} calls per request, {cpu_us:.0f} µs CPU per request (unprofiled, noisy)")
            return calls, stats

        n = a.requests
        _, plain_stats = count(plain, n, "plain completion", a.chunks)
        short, _ = count(stream, n, f"stream of {a.chunks} chunks", a.chunks)
        long, long_stats = count(stream, n, f"stream of {6 * a.chunks} chunks", 6 * a.chunks)
        print(f"per chunk: {(long - short) / (5 * a.chunks):.1f} calls")
        for label, stats in (("plain completion", plain_stats), (f"stream of {6 * a.chunks} chunks", long_stats)):
            print(f"\n## {label}: most calls (ncalls per request, function)")
            rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][1])[: a.top]  # type: ignore[attr-defined]
            for (file, line, func), (_cc, nc, _tt, _ct, _callers) in rows:
                print(f"{nc / n:8.1f}  {os.path.relpath(file) if file.startswith('/') else file}:{line} {func}")
    finally:
        fake.kill()


if __name__ == "__main__":
    main()
