#!/usr/bin/env python3
"""Soak: a bounded mixed load against a real gunicorn gateway (2 gevent workers, PostgreSQL, Redis) and the fake
upstream, watching what must not drift over time. Run by hand (not in CI); the issue asks for 10 minutes:

  python benchmarks/soak.py --duration 600 --redis-url redis://127.0.0.1:6379/15

Load: client threads loop until --duration is up over plain chats, full streams, streams the client drops after
the first event, plain chats the client abandons before the answer, and embeddings. Every --interval seconds it
samples each worker's memory (RSS and PSS from /proc/<pid>/smaps_rollup) and the established TCP connections of
the gateway's processes to PostgreSQL, Redis and the upstream (socket inodes of /proc/<pid>/fd against
/proc/net/tcp). At the end: worker memory after warm-up (flat = every sample within ±10 % of that worker's mean),
connections (no leak = the last third of the run holds no more than the first third after warm-up, plus a
little), and the ledger's records against the requests sent (every request is recorded once).

Only loopback traffic; a fresh PostgreSQL database (dropped at the end) and the given Redis db (flushed); every
process started here is stopped on exit. Exit status 0 when all three hold.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import redis
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
KEY = "gw_soak_8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
CHAT = {
    "model": "openai.gpt-4o-mini",
    "messages": [{"role": "user", "content": "soak test, say hello"}],
    "max_tokens": 16,
}
EMBED = {"model": "openai.text-embedding-3-small", "input": ["one two three", "four five six"]}
#: Share of each kind of request in the mix (out of 20).
MIX = ["chat"] * 9 + ["stream"] * 4 + ["stream_drop"] * 2 + ["chat_abandon"] * 1 + ["embedding"] * 4


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited early")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


# -- /proc ------------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            values[name] = int(rest.split()[0])
    return values.get("Rss", 0), values.get("Pss", 0)


def established_remote_ports(pids: list[int]) -> Counter[int]:
    """Remote ports of the ESTABLISHED TCP sockets the processes hold."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports: Counter[int] = Counter()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and fields[9] in inodes:  # ESTABLISHED
                ports[int(fields[2].rsplit(":", 1)[1], 16)] += 1
    return ports


# -- the load ---------------------------------------------------------------------------------
class Load:
    """Client threads sending the mix until the deadline; counts what was sent and what came back."""

    def __init__(self, url: str, clients: int, deadline: float) -> None:
        self.url = url
        self.clients = clients
        self.deadline = deadline
        self.sent = Counter[str]()
        self.outcomes = Counter[str]()
        self.errors = Counter[str]()
        self._lock = threading.Lock()

    def run(self) -> None:
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _client(self, index: int) -> None:
        rng = random.Random(index)
        session = requests.Session()
        headers = {"X-API-Key": KEY}
        while time.monotonic() < self.deadline:
            kind = rng.choice(MIX)
            try:
                outcome = self._one(session, kind, headers)
            except requests.RequestException as exc:
                outcome = f"client error {type(exc).__name__}"
                with self._lock:
                    self.errors[type(exc).__name__] += 1
                session.close()
                session = requests.Session()
            with self._lock:
                self.sent[kind] += 1
                self.outcomes[f"{kind} {outcome}"] += 1
        session.close()

    def _one(self, session: requests.Session, kind: str, headers: dict[str, str]) -> str:
        if kind == "chat":
            return str(
                session.post(f"{self.url}/api/v1/completion", json=CHAT, headers=headers, timeout=30).status_code
            )
        if kind == "embedding":
            return str(
                session.post(f"{self.url}/api/v1/embedding", json=EMBED, headers=headers, timeout=30).status_code
            )
        if kind == "chat_abandon":  # the client gives up before the answer (the upstream waits 20 ms first)
            try:
                requests.post(f"{self.url}/api/v1/completion", json=CHAT, headers=headers, timeout=(5, 0.005))
            except requests.ReadTimeout:
                return "abandoned"
            return "answered first"
        with session.post(
            f"{self.url}/api/v1/completion/stream", json=CHAT, headers=headers, stream=True, timeout=30
        ) as response:
            if response.status_code != 200:
                return str(response.status_code)
            lines = response.iter_lines()
            for line in lines:
                if line.startswith(b"data:"):
                    break
            if kind == "stream_drop":
                response.raw._fp.close()  # the client goes away mid-stream
                return "dropped"
            complete = any(line == b"data: [DONE]" for line in lines)
            return "200 complete" if complete else "200 incomplete"


# -- the run ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds left out of the memory verdict")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="flushed before and after")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", default="", help="also write the samples and the verdict here")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="llmgw-soak-"))
    database = f"llmgw_soak_{os.getpid()}"
    admin = psycopg.connect(args.pg_admin_url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    db_url = args.pg_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{database}"
    pg_port = int(db_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    redis_client = redis.Redis.from_url(args.redis_url)
    redis_client.flushdb()
    redis_port = redis_client.connection_pool.connection_kwargs.get("port", 6379)
    upstream_port, gateway_port = free_port(), free_port()
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "fake_upstream.py"),
                    "--port",
                    str(upstream_port),
                    "--latency-ms",
                    "20",
                    "--chunks",
                    "10",
                    "--chunk-ms",
                    "20",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        wait_http(f"http://127.0.0.1:{upstream_port}/health", processes[-1])
        config = workdir / "gateway.yaml"
        config.write_text(
            json.dumps(
                {
                    "providers": {"openai": {"api_key": "sk-soak", "base_url": f"http://127.0.0.1:{upstream_port}/v1"}},
                    "api_keys": [
                        {
                            "key": KEY,
                            "owner": "soak",
                            "permissions": ["completion", "embedding"],
                            "rate_limit": "100000000/minute",
                        }
                    ],
                    "database": {"url": db_url},
                    "redis": {"url": args.redis_url},
                    "secret_key": "soak-pepper-" + "x" * 40,
                    "jwt": {"secret": "soak-jwt-" + "y" * 40},
                    "ledger": {"spool_dir": str(workdir / "spool")},
                    "logging": {"level": "WARNING"},
                    "cache": {"enabled": False},  # every request goes upstream: the connections are what is watched
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMGATEWAY_", "PROMETHEUS_"))}
        env.update(
            LLMGATEWAY_CONFIG=str(config),
            PORT=str(gateway_port),
            HOST="127.0.0.1",
            WEB_CONCURRENCY="2",
            GUNICORN_LOG_LEVEL="warning",
            DATABASE_URL="",
            REDIS_URL="",
        )
        with (workdir / "gateway.log").open("wb") as out:
            master = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        processes.append(master)
        url = f"http://127.0.0.1:{gateway_port}"
        wait_http(f"{url}/health", master)
        while len(children(master.pid)) < 2:
            time.sleep(0.2)
        log(f"gateway on {url}, workers {children(master.pid)}; load for {args.duration:.0f} s")

        started = time.monotonic()
        load = Load(url, args.clients, started + args.duration)
        runner = threading.Thread(target=load.run, daemon=True)
        runner.start()
        samples = []
        while True:
            at = time.monotonic() - started
            workers = children(master.pid)
            ports = established_remote_ports([master.pid, *workers])
            sample = {
                "t": round(at, 1),
                "workers": {str(pid): memory_kb(pid) for pid in workers},
                "postgres": ports[pg_port],
                "redis": ports[redis_port],
                "upstream": ports[upstream_port],
                "sent": sum(load.sent.values()),
            }
            samples.append(sample)
            log(
                f"t={sample['t']:6.1f}s sent={sample['sent']:6d} pss_mb="
                f"{[round(v[1] / 1024, 1) for v in sample['workers'].values()]} pg={sample['postgres']} "
                f"redis={sample['redis']} upstream={sample['upstream']}"
            )
            if not runner.is_alive():
                break
            time.sleep(max(0.0, args.interval - (time.monotonic() - started - at)))
        time.sleep(3)  # idle: what is still open now is what the pools keep
        idle = established_remote_ports([master.pid, *children(master.pid)])
        requests_sent = sum(load.sent.values())
        records = wait_for_records(db_url, requests_sent)
        verdict = judge(samples, args.warmup, idle, (pg_port, redis_port, upstream_port), requests_sent, records)
        report = {
            "duration_s": args.duration,
            "clients": args.clients,
            "sent": dict(load.sent),
            "outcomes": dict(load.outcomes),
            "client_errors": dict(load.errors),
            "samples": samples,
            "idle_connections": {"postgres": idle[pg_port], "redis": idle[redis_port], "upstream": idle[upstream_port]},
            **verdict,
        }
        print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return 0 if verdict["memory_flat"] and verdict["no_connection_leak"] and verdict["records_match"] else 1
    finally:
        for process in reversed(processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        redis_client.flushdb()
        redis_client.close()


def wait_for_records(db_url: str, wanted: int, timeout: float = 60.0) -> int:
    """Usage records in PostgreSQL once the spool drained (or the timeout passed)."""
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn) as connection:
        while True:
            count = connection.execute("SELECT count(*) FROM usage_records").fetchone()[0]
            if count >= wanted or time.monotonic() > deadline:
                return int(count)
            time.sleep(1)


def judge(
    samples: list[dict], warmup: float, idle: Counter[int], ports: tuple[int, int, int], sent: int, records: int
) -> dict:
    """Memory flat after warm-up (±10 % of each worker's mean), connections not growing, records == requests."""
    steady = [s for s in samples if s["t"] >= warmup] or samples
    memory = {}
    for pid in steady[0]["workers"]:
        pss = [s["workers"][pid][1] for s in steady if pid in s["workers"]]
        mean = statistics.mean(pss)
        memory[pid] = {
            "pss_mb_mean": round(mean / 1024, 1),
            "pss_mb_min": round(min(pss) / 1024, 1),
            "pss_mb_max": round(max(pss) / 1024, 1),
            "max_deviation_pct": round(max(abs(v - mean) for v in pss) / mean * 100, 1),
        }
    third = max(1, len(steady) // 3)
    growth = {}
    for name in ("postgres", "redis", "upstream"):
        first, last = max(s[name] for s in steady[:third]), max(s[name] for s in steady[-third:])
        growth[name] = {"first_third_max": first, "last_third_max": last}
    return {
        "memory_after_warmup": memory,
        "memory_flat": all(m["max_deviation_pct"] <= 10 for m in memory.values()),
        "connections": growth,
        "no_connection_leak": all(g["last_third_max"] <= g["first_third_max"] * 1.2 + 2 for g in growth.values()),
        "requests_sent": sent,
        "records": records,
        "records_match": records == sent,
    }


if __name__ == "__main__":
    sys.exit(main())
