"""First-event overhead of the three streaming chat surfaces against one fake upstream (bounded, ~30-60 s).

Starts benchmarks/fake_upstream.py and the gateway (gunicorn, one gevent worker, SQLite, no Redis) from this
checkout, with the fake as a HuggingFace-router upstream so that all three surfaces reach the same upstream
path (/v1/chat/completions). Then, in interleaved rounds, streams the same one-line prompt through

  chat        POST /v1/chat/completions   (the reference)
  messages    POST /v1/messages           (Anthropic's Messages API)
  responses   POST /v1/responses          (OpenAI's Responses API)
  direct      the fake upstream itself    (the floor)

and measures, per request, the time from sending to the first complete SSE event and to the first event that
carries text. Prints p50/p90 per surface and the overhead over `direct`, as JSON.

Usage: python benchmarks/surfaces_first_event.py [--rounds 150] [--latency-ms 20] [--budget-s 50]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-surfaces-key-0123456789abcdef"
MODEL = "huggingface.bench/model"
PROMPT = "hello there"
BODIES = {
    "chat": (
        "/v1/chat/completions",
        {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": PROMPT}]},
    ),
    "messages": (
        "/v1/messages",
        {"model": MODEL, "stream": True, "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]},
    ),
    "responses": ("/v1/responses", {"model": MODEL, "stream": True, "input": PROMPT, "store": False}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not answer {path} within {timeout} s")


def first_events(port: int, path: str, body: dict, headers: dict[str, str]) -> tuple[float, float]:
    """Seconds to the first SSE event and to the first event carrying the reply's first word."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = json.dumps(body).encode()
    started = time.perf_counter()
    conn.request("POST", path, body=data, headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status} {response.read()[:300]!r}")
    buffer, first, text = b"", None, None
    while text is None:
        chunk = response.read1(65536)
        if not chunk:
            break
        buffer += chunk
        if first is None and b"\n\n" in buffer:
            first = time.perf_counter() - started
        if b"Hello" in buffer:
            text = time.perf_counter() - started
    response.read()
    conn.close()
    if first is None or text is None:
        raise RuntimeError(f"{path}: the stream ended without the expected events")
    return first, text


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * p / 100))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the fake's time to first byte")
    parser.add_argument("--budget-s", type=float, default=50.0, help="stop measuring after this long")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="surfaces-bench-"))
    fake_port, gw_port = free_port(), free_port()
    config = workdir / "gateway.json"
    config.write_text(
        json.dumps(
            {
                "providers": {"huggingface": {"api_key": "hf-bench", "base_url": f"http://127.0.0.1:{fake_port}"}},
                "api_keys": [{"key": KEY, "owner": "bench", "permissions": ["completion"]}],
                "database": {"url": f"sqlite:///{workdir / 'bench.db'}"},
                "rate_limits": {"enabled": False},
                "cache": {"enabled": False},
                "logging": {"level": "WARNING"},
                "secret_key": "bench-pepper-" + "x" * 40,
                "jwt": {"secret": "bench-jwt-" + "y" * 40},
            }
        )
    )
    env = {**os.environ, "LLMGATEWAY_CONFIG": str(config), "WEB_CONCURRENCY": "1", "PORT": str(gw_port)}
    for name in ("DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        env.pop(name, None)
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "benchmarks" / "fake_upstream.py"),
                    "--port",
                    str(fake_port),
                    "--latency-ms",
                    str(args.latency_ms),
                    "--chunks",
                    "5",
                    "--chunk-ms",
                    "1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_http(fake_port, "/health", procs[-1], 15)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{gw_port}",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=open(workdir / "gateway.log", "wb"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_http(gw_port, "/health", procs[-1], 30)
        auth = {"Authorization": f"Bearer {KEY}"}
        for path, body in BODIES.values():  # warm-up: imports, pools, first SQLite writes
            for _ in range(5):
                first_events(gw_port, path, body, auth)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in (*BODIES, "direct")}
        deadline = time.monotonic() + args.budget_s
        rounds = 0
        while rounds < args.rounds and time.monotonic() < deadline:
            for name, (path, body) in BODIES.items():
                samples[name].append(first_events(gw_port, path, body, auth))
            samples["direct"].append(
                first_events(fake_port, "/v1/chat/completions", {**BODIES["chat"][1], "model": "bench/model"}, {})
            )
            rounds += 1
        report: dict[str, object] = {"rounds": rounds, "upstream_latency_ms": args.latency_ms}
        floor = percentile([t for _, t in samples["direct"]], 50)
        for name, values in samples.items():
            firsts, texts = [f * 1000 for f, _ in values], [t * 1000 for _, t in values]
            report[name] = {
                "first_event_ms_p50": round(percentile(firsts, 50), 2),
                "first_event_ms_p90": round(percentile(firsts, 90), 2),
                "first_text_ms_p50": round(percentile(texts, 50), 2),
                "first_text_ms_p90": round(percentile(texts, 90), 2),
                "text_overhead_over_direct_ms_p50": round(percentile(texts, 50) - floor * 1000, 2),
            }
        print(json.dumps(report, indent=2))
        return 0
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
