#!/usr/bin/env python3
"""Benchmark harness: llmgateway vs LiteLLM proxy vs calling the fake upstream directly.

Layout on the 2-core machine:
  CPU 0: the target (gateway: gunicorn, 2 gevent workers; LiteLLM: its proxy, 2 workers)
  CPU 1: the fake upstream (benchmarks/fake_upstream.py), wrk and the stream client

Request/response runs: wrk (-t1, --latency, POST body from a generated lua script) for each
upstream latency x concurrency, each bounded by --duration. Stream runs: benchmarks/stream_client.py
opens N concurrent SSE streams (bounded by --stream-timeout). "direct" is the same load sent to the
fake itself; overheads are target minus direct.

Measured per run: requests/s, p50/p90/p99 latency, non-2xx and socket errors, CPU ms per request
of the target's process tree (utime+stime from /proc, before/after), peak RSS of the tree (sum of
VmRSS, sampled every 0.2 s) and its PSS at the end, upstream requests seen by the fake, CPU busy % of
each core (to spot a saturated load generator).

Only stdlib; all traffic on 127.0.0.1; every process started here is killed on exit.

  python benchmarks/run.py --quick --targets direct,litellm          # a few minutes
  python benchmarks/run.py --targets direct,litellm,gateway          # full matrix (~25 min)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
TARGET_CPU = "0"
LOAD_CPU = "1"

CHAT_BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 16,
    "temperature": 0.7,
}
GATEWAY_BODY = {
    "model": "openai.gpt-4o-mini",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 16,
    "temperature": 0.7,
}
#: Tools for the tool-call stream scenario (the fake answers a request with tools by streaming two calls).
BENCH_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
LITELLM_MASTER_KEY = "sk-bench-master"
GATEWAY_KEY = "gw_bench_3b9f0c1d2e4a4f6b8c7d9e0f1a2b3c4d"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc helpers


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2 :].split()  # fields from "state" on (field 3)


def all_ppids() -> dict[int, int]:
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                out[int(d)] = int(st[1])
    return out


def tree(root: int) -> list[int]:
    """root and all its descendants (threads are not processes here)."""
    ppids = all_ppids()
    if root not in ppids:
        return []
    kids: dict[int, list[int]] = {}
    for pid, pp in ppids.items():
        kids.setdefault(pp, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_cpu_s(root: int) -> float:
    """utime+stime of every live process of the tree, plus the root's reaped children."""
    total = 0.0
    for pid in tree(root):
        st = _stat(pid)
        if st:
            total += int(st[11]) + int(st[12])  # utime, stime
            if pid == root:
                total += int(st[13]) + int(st[14])  # cutime, cstime
    return total / CLK_TCK


def tree_rss_kb(root: int) -> int:
    total = 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KB
        except OSError:
            pass
    return total


def tree_pss_kb(root: int) -> int:
    total = 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def all_proc_ticks() -> dict[int, tuple[str, int]]:
    """every process: (comm, utime+stime jiffies)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.find("(") + 1 : s.rfind(")")]
        st = s[s.rfind(")") + 2 :].split()
        out[int(d)] = (comm, int(st[11]) + int(st[12]))
    return out


def others_cpu_s(before: dict, after: dict, exclude: set[int]) -> dict[str, float]:
    """CPU seconds used between two all_proc_ticks() snapshots, by command name, outside `exclude`."""
    by: dict[str, float] = {}
    for pid, (comm, t) in after.items():
        if pid in exclude:
            continue
        d = t - before.get(pid, (comm, 0))[1]
        if d > 0:
            by[comm] = by.get(comm, 0.0) + d / CLK_TCK
    return dict(sorted(by.items(), key=lambda kv: -kv[1]))


def cpu_ticks() -> dict[str, tuple[int, int]]:
    """per cpu: (busy, total) jiffies."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if re.match(r"cpu\d", line):
                name, *vals = line.split()
                v = [int(x) for x in vals]
                idle = v[3] + v[4]
                out[name] = (sum(v) - idle, sum(v))
    return out


def cpu_busy_pct(before: dict, after: dict) -> dict[str, float]:
    out = {}
    for k in after:
        db, dt = after[k][0] - before[k][0], after[k][1] - before[k][1]
        out[k] = round(100.0 * db / dt, 1) if dt else 0.0
    return out


class Sampler:
    """Samples the target tree's RSS every `every` seconds in a thread; keeps the peak."""

    def __init__(self, root: int, every: float = 0.2) -> None:
        self.root, self.every, self.peak_kb = root, every, 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.root))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self.peak_kb = tree_rss_kb(self.root)
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join(timeout=5)
        self.peak_kb = max(self.peak_kb, tree_rss_kb(self.root))


# ---------------------------------------------------------------- processes

PROCS: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    cmd: list[str], cpu: str, logfile: Path, env: dict | None = None, cwd: Path | None = None
) -> subprocess.Popen:
    full = ["taskset", "-c", cpu] + cmd
    log(f"start (cpu {cpu}): {' '.join(cmd)}  > {logfile}")
    f = open(logfile, "ab")
    p = subprocess.Popen(full, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    f.close()
    PROCS.append(p)
    return p


def stop(p: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group we created (its id is the child's pid), SIGKILL after `grace`."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)  # stragglers in the group (workers)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if p in PROCS:
        PROCS.remove(p)


def stop_all() -> None:
    for p in list(PROCS):
        stop(p, grace=5)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_post(url: str, body: dict, headers: dict, timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} while waiting for {url}")
        try:
            status, _ = http_get(url, timeout=2)
            if status == 200:
                return
            last = status
        except OSError as e:
            last = e
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout}s (last: {last})")


# ---------------------------------------------------------------- targets


def wait_gunicorn(health_url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Until the health URL answers and the master has both of its workers, then a second to settle."""
    wait_http(health_url, proc, timeout)
    deadline = time.time() + 30
    while time.time() < deadline and len(tree(proc.pid)) < 3:  # master + 2 workers
        time.sleep(0.5)
    time.sleep(1)


class Target:
    name = "?"
    proc: subprocess.Popen | None = None
    port = 0

    def __init__(self, args, workdir: Path, fake_port: int) -> None:
        self.args, self.workdir, self.fake_port = args, workdir, fake_port

    @property
    def root_pid(self) -> int:
        return self.proc.pid

    def start(self) -> None: ...

    def stop(self) -> None:
        if self.proc:
            stop(self.proc)
            self.proc = None

    # request/response load
    def chat_url(self) -> str: ...
    def chat_body(self) -> dict:
        return CHAT_BODY

    def headers(self) -> dict:
        return {}

    # streams
    def stream_url(self) -> str:
        return self.chat_url()

    def stream_body(self) -> dict:
        return {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}

    def smoke(self) -> None:
        status, body = http_post(self.chat_url(), self.chat_body(), self.headers())
        if status != 200:
            raise RuntimeError(f"{self.name}: smoke request answered {status}: {body[:300]!r}")


class Direct(Target):
    """The fake upstream itself (its process is the 'target' tree)."""

    name = "direct"

    def __init__(self, args, workdir, fake_port, fake_proc) -> None:
        super().__init__(args, workdir, fake_port)
        self.port, self.proc = fake_port, fake_proc

    def stop(self) -> None:  # the fake is stopped by main
        pass

    def chat_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"


class LiteLLM(Target):
    name = "litellm"

    def start(self) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "FAKE_UPSTREAM_BASE": f"http://127.0.0.1:{self.fake_port}/v1",
            # no network here: use the packaged model cost map instead of a failing fetch at startup
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        logf = self.workdir / "litellm.log"
        self.proc = start(
            [
                self.args.litellm_bin,
                "--config",
                str(HERE / "litellm_config.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--num_workers",
                "2",
                # uvicorn kills a worker that misses its 5 s health ping; on one busy core LiteLLM's
                # workers take longer to start, and were restarted in a loop. Only start-up is affected.
                "--timeout_worker_healthcheck",
                "60",
            ],
            TARGET_CPU,
            logf,
            env=env,
        )
        wait_http(f"http://127.0.0.1:{self.port}/health/liveliness", self.proc, self.args.start_timeout)
        # uvicorn's supervisor may restart slow-starting workers: wait until 2 are up and settle
        deadline = time.time() + self.args.start_timeout
        while time.time() < deadline:
            if logf.read_text(errors="replace").count("Application startup complete") >= 2:
                break
            time.sleep(1)
        time.sleep(3)

    def chat_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"}


class Floor(Target):
    """benchmarks/floor_app.py: a bare Flask proxy on the gateway's server stack, to show what the stack costs."""

    name = "floor"

    def start(self) -> None:
        self.port = free_port()
        gw = Path(self.args.gateway_dir)
        # the gateway's upstream client (floor_app imports it) and its resolver, as gunicorn.conf.py sets it
        env = {
            **os.environ,
            "FLOOR_UPSTREAM": f"http://127.0.0.1:{self.fake_port}/v1",
            "GEVENT_RESOLVER": "llmgateway.infra.resolver.CachingResolver",
        }
        env["PYTHONPATH"] = str(gw) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = start(
            [
                self.args.gunicorn_bin,
                "-k",
                "gevent",
                "-w",
                "2",
                "--worker-connections",
                "2000",
                "--keep-alive",
                "75",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "floor_app:app",
            ],
            TARGET_CPU,
            self.workdir / "floor.log",
            env=env,
            cwd=HERE,
        )
        wait_gunicorn(f"http://127.0.0.1:{self.port}/health", self.proc, self.args.start_timeout)

    def chat_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"


class Gateway(Target):
    name = "gateway"

    def start(self) -> None:
        gw = Path(self.args.gateway_dir)
        for f in ("wsgi.py", "gunicorn.conf.py"):
            if not (gw / f).exists():
                raise RuntimeError(f"gateway not available: {gw / f} missing (merge main first)")
        self.port = free_port()
        db = self.args.gateway_db
        db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
        redis_url = f"redis://127.0.0.1:6379/{self.args.gateway_redis_db}"
        # fresh database and redis db for every gateway start
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c"]
        subprocess.run(psql + [f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], check=True)
        subprocess.run(psql + [f'CREATE DATABASE "{db}"'], check=True)
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-n", str(self.args.gateway_redis_db), "FLUSHDB"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cfg = self.workdir / "gateway.yaml"
        cfg.write_text(
            "providers:\n"
            "  openai:\n"
            f"    base_url: http://127.0.0.1:{self.fake_port}/v1\n"
            "    api_key: sk-bench\n"
            "api_keys:\n"
            f"  - key: {GATEWAY_KEY}\n"
            "    owner: bench\n"
            "    permissions: [completion, embedding, admin]\n"
            '    rate_limit: "100000000/minute"\n'
            "database:\n"
            f"  url: {db_url}\n"
            # A shared database needs configured secrets (a fleet must not generate its own per instance).
            f"secret_key: bench-pepper-{'x' * 40}\n"
            "jwt:\n"
            f"  secret: bench-jwt-secret-{'y' * 40}\n"
            "redis:\n"
            f"  url: {redis_url}\n" + os.environ.get("BENCH_GATEWAY_EXTRA_YAML", "") + "\n"
            # Extra YAML for experiments, e.g. BENCH_GATEWAY_EXTRA_YAML=$'circuit_breaker: {enabled: false}'
        )
        env = {
            **os.environ,
            "LLMGATEWAY_CONFIG": str(cfg),
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "2",
        }
        env["PYTHONPATH"] = str(gw) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        if self.args.gateway_migrate:
            log(f"gateway migrate: {self.args.gateway_migrate}")
            r = subprocess.run(
                self.args.gateway_migrate, shell=True, cwd=gw, env=env, capture_output=True, text=True, timeout=300
            )
            (self.workdir / "gateway-migrate.log").write_text(r.stdout + r.stderr)
            if r.returncode:
                raise RuntimeError(f"gateway migration failed ({r.returncode}): {r.stderr[-2000:]}")
        self.proc = start(
            [self.args.gunicorn_bin, "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            TARGET_CPU,
            self.workdir / "gateway.log",
            env=env,
            cwd=gw,
        )
        wait_gunicorn(f"http://127.0.0.1:{self.port}{self.args.gateway_health}", self.proc, self.args.start_timeout)

    def chat_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/completion"

    def chat_body(self) -> dict:
        return GATEWAY_BODY

    def headers(self) -> dict:
        return {"X-API-Key": GATEWAY_KEY}

    def stream_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/completion/stream"

    def stream_body(self) -> dict:
        return GATEWAY_BODY


# ---------------------------------------------------------------- load


def lua_script(path: Path, body: dict, headers: dict) -> Path:
    def q(s: str) -> str:
        return "[==[" + s + "]==]"

    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {q(json.dumps(body))}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    lines += [f"wrk.headers[ {q(k)} ] = {q(v)}" for k, v in headers.items()]  # "[ [" not "[[" (long string)
    path.write_text("\n".join(lines) + "\n")
    return path


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict:
    r: dict = {"raw_tail": out[-600:]}
    for p in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        r[f"p{p}_ms"] = _ms(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    return r


def fake_config(fake_port: int, **kw) -> None:
    q = "&".join(f"{k}={v}" for k, v in kw.items())
    status, _ = http_get(f"http://127.0.0.1:{fake_port}/_fake/config?{q}")
    assert status == 200


def fake_stats(fake_port: int) -> dict:
    return json.loads(http_get(f"http://127.0.0.1:{fake_port}/_fake/stats")[1])


def wait_quiet() -> None:
    """Before a run: wait (bounded by --quiet-wait) until unrelated processes use < --quiet-pct of a core."""
    a = args_global
    if not a or a.quiet_wait <= 0:
        return
    deadline = time.time() + a.quiet_wait
    while True:
        mine = set(tree(os.getpid()))
        b0, t0 = all_proc_ticks(), cpu_ticks()
        time.sleep(1.0)
        b1, t1 = all_proc_ticks(), cpu_ticks()
        busy = sum(t1[k][0] - t0[k][0] for k in t1) / CLK_TCK
        own = sum(t - b0.get(pid, ("", t))[1] for pid, (_c, t) in b1.items() if pid in mine) / CLK_TCK
        other = 100 * max(0.0, busy - own)
        if other < a.quiet_pct:
            return
        if time.time() > deadline:
            log(f"machine still busy ({other:.0f}% of a core used by other processes); running anyway")
            return
        log(f"waiting for a quiet machine: {other:.0f}% of a core used by other processes")
        time.sleep(2)


def measured(target: Target, fake_pid: int, fake_port: int, fn, spy_label: str | None = None):
    """Runs fn() and returns (fn result, resource numbers of the target and the fake)."""
    root = target.root_pid
    wait_quiet()
    spy = start_pyspy(target, args_global, Path(args_global.workdir), spy_label) if spy_label else None
    me = _stat(os.getpid())
    l0 = int(me[13]) + int(me[14])  # reaped children of run.py: wrk, stream client, py-spy
    c0, f0, t0, a0 = tree_cpu_s(root), tree_cpu_s(fake_pid), cpu_ticks(), all_proc_ticks()
    s0 = fake_stats(fake_port)
    w0 = time.time()
    with Sampler(root) as smp:
        res = fn()
    wall = time.time() - w0
    c1, f1, t1, a1 = tree_cpu_s(root), tree_cpu_s(fake_pid), cpu_ticks(), all_proc_ticks()
    others = others_cpu_s(a0, a1, set(tree(root)) | {fake_pid})
    services_s = sum(v for k, v in others.items() if k in ("postgres", "redis-server"))
    me = _stat(os.getpid())
    load_s = (int(me[13]) + int(me[14]) - l0) / CLK_TCK
    busy_s = sum(t1[k][0] - t0[k][0] for k in t1) / CLK_TCK
    # CPU used by anything else on the machine (other sessions' tests, ...): a noise indicator
    if spy:
        spy = finish_pyspy(*spy)
    fake_part = 0.0 if root == fake_pid else f1 - f0
    noise_s = max(0.0, busy_s - (c1 - c0) - fake_part - services_s - load_s)
    s1 = fake_stats(fake_port)
    upstream = (s1["chat"] + s1["chat_stream"] + s1["embeddings"]) - (s0["chat"] + s0["chat_stream"] + s0["embeddings"])
    return (
        res,
        {
            "target_cpu_s": round(c1 - c0, 3),
            "fake_cpu_s": round(f1 - f0, 3),
            "wall_s": round(wall, 2),
            "peak_rss_mb": round(smp.peak_kb / 1024, 1),
            "pss_end_mb": round(tree_pss_kb(root) / 1024, 1),
            "cpu_busy_pct": cpu_busy_pct(t0, t1),
            "upstream_requests": upstream,
            "upstream_connections": s1["connections"] - s0["connections"],
            "services_cpu_s": round(services_s, 3),  # postgres + redis-server (shared, unpinned)
            "load_cpu_s": round(load_s, 3),
            "noise_pct": round(100 * noise_s / wall, 1),  # % of one core used by unrelated processes
            "other_cpu_s": {k: round(v, 3) for k, v in list(others.items())[:8]},
            **({"pyspy": spy} if spy else {}),
        },
    )


def measured_best(target: Target, fake_pid: int, fake_port: int, fn, spy_label: str | None = None):
    """measured(), repeated (at most --noisy-retries more times) while other processes disturbed the run;
    keeps the least disturbed attempt."""
    best = None
    for attempt in range(1 + args_global.noisy_retries):
        res, rsrc = measured(target, fake_pid, fake_port, fn, spy_label)
        rsrc["attempts"] = attempt + 1
        if best is None or rsrc["noise_pct"] < best[1]["noise_pct"]:
            best = (res, rsrc)
        if rsrc["noise_pct"] <= 2 * args_global.quiet_pct:
            break
        if attempt < args_global.noisy_retries:
            log(f"run disturbed (noise {rsrc['noise_pct']}% of a core); retrying")
    return best


def run_wrk(target: Target, conc: int, duration: float, script: Path, url: str) -> dict:
    cmd = [
        "taskset",
        "-c",
        LOAD_CPU,
        "wrk",
        "-t1",
        f"-c{conc}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if out.returncode:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr} {out.stdout[-500:]}")
    return parse_wrk(out.stdout)


def run_streams(target: Target, n: int, args, workdir: Path) -> dict:
    hdrs = []
    for k, v in target.headers().items():
        hdrs += ["--header", f"{k}: {v}"]
    cmd = [
        "taskset",
        "-c",
        LOAD_CPU,
        sys.executable,
        str(HERE / "stream_client.py"),
        "--url",
        target.stream_url(),
        "--body",
        json.dumps(target.stream_body()),
        "--streams",
        str(n),
        "--timeout",
        str(args.stream_timeout),
        "--ramp-s",
        str(args.stream_ramp),
    ] + hdrs
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.stream_timeout + 60)
    if out.returncode:
        raise RuntimeError(f"stream client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def held_chunks(args) -> int:
    return max(1, round(args.held_duration * 1000 / args.held_chunk_ms))


def run_held(target: Target, args, workdir: Path, body: dict | None = None) -> dict:
    """--held streams arriving over --held-ramp s, each --held-duration s long (a chunk every --held-chunk-ms),
    stamped by the fake; PSS of the target tree sampled every 2 s meanwhile (the peak is kept)."""
    n = args.held
    hdrs = []
    for k, v in target.headers().items():
        hdrs += ["--header", f"{k}: {v}"]
    timeout = args.held_ramp + args.held_duration + args.held_latency / 1000 + 30
    cmd = [
        "taskset",
        "-c",
        LOAD_CPU,
        sys.executable,
        str(HERE / "stream_client.py"),
        "--url",
        target.stream_url(),
        "--body",
        json.dumps(body or target.stream_body()),
        "--streams",
        str(n),
        "--timeout",
        str(timeout),
        "--ramp-s",
        str(args.held_ramp),
        "--connect-timeout",
        "30",
    ] + hdrs
    pss_before = tree_pss_kb(target.root_pid)
    peak = {"kb": pss_before}
    stop_ev = threading.Event()

    def sample() -> None:
        while not stop_ev.wait(2.0):
            peak["kb"] = max(peak["kb"], tree_pss_kb(target.root_pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    finally:
        stop_ev.set()
        sampler.join(timeout=5)
    if out.returncode:
        raise RuntimeError(f"stream client failed: {out.stderr[-2000:]}")
    res = json.loads(out.stdout)
    res["pss_before_mb"] = round(pss_before / 1024, 1)
    res["pss_peak_mb"] = round(peak["kb"] / 1024, 1)
    res["pss_per_stream_kb"] = round((peak["kb"] - pss_before) / n, 1)
    return res


def pyspy_summary(raw: Path, top: int = 80) -> dict:
    self_c: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        n = int(n)
        total += n
        frames = stack.split(";")
        self_c[frames[-1]] = self_c.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n

    def best(d):
        return (
            [(round(100.0 * v / total, 1), k) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]]
            if total
            else []
        )

    return {"samples": total, "self": best(self_c), "inclusive": best(incl)}


def bench_target(target: Target, args, fake_pid: int, fake_port: int, workdir: Path, results: dict) -> None:
    name = target.name
    log(f"=== {name}")
    fake_config(fake_port, latency_ms=0, chunks=args.chunks, chunk_ms=args.chunk_ms)
    target.start()
    target.smoke()
    try:
        script = lua_script(workdir / f"{name}.lua", target.chat_body(), target.headers())
        if args.warmup > 0:
            log(f"{name}: warm-up {args.warmup}s")
            run_wrk(target, 16, args.warmup, script, target.chat_url())
        c0 = tree_cpu_s(target.root_pid)
        time.sleep(3)
        results["idle"][name] = {
            "cpu_pct": round(100 * (tree_cpu_s(target.root_pid) - c0) / 3, 1),
            "rss_mb": round(tree_rss_kb(target.root_pid) / 1024, 1),
            "pss_mb": round(tree_pss_kb(target.root_pid) / 1024, 1),
            "processes": len(tree(target.root_pid)),
        }
        log(f"{name}: idle after warm-up {results['idle'][name]}")
        if not args.no_wrk:
            for lat in args.latencies:
                fake_config(fake_port, latency_ms=lat)
                for conc in args.concurrency:
                    profile = (
                        args.pyspy and name != "direct" and lat == args.latencies[0] and conc == max(args.concurrency)
                    )
                    res, rsrc = measured_best(
                        target,
                        fake_pid,
                        fake_port,
                        lambda: run_wrk(target, conc, args.duration, script, target.chat_url()),
                        f"{name}-wrk-c{conc}" if profile else None,
                    )
                    row = {"target": name, "latency_ms": lat, "concurrency": conc, **res, **rsrc}
                    row["cpu_ms_per_req"] = (
                        round(1000 * rsrc["target_cpu_s"] / res["requests"], 3) if res["requests"] else None
                    )
                    row["fake_cpu_ms_per_req"] = (
                        round(1000 * rsrc["fake_cpu_s"] / res["requests"], 3) if res["requests"] else None
                    )
                    row["services_cpu_ms_per_req"] = (
                        round(1000 * rsrc["services_cpu_s"] / res["requests"], 3) if res["requests"] else None
                    )
                    results["wrk"].append(row)
                    log(
                        f"{name} lat={lat} c={conc}: {res['rps']:.0f} rps p50={res['p50_ms']} p99={res['p99_ms']} "
                        f"cpu/req={row['cpu_ms_per_req']}ms (+pg/redis {row['services_cpu_ms_per_req']}) rss={rsrc['peak_rss_mb']}MB non2xx={res['non2xx']} "
                        f"sock={res['socket_errors']} upstream={rsrc['upstream_requests']}/{rsrc['upstream_connections']}conns busy={rsrc['cpu_busy_pct']} "
                        f"noise={rsrc['noise_pct']}%"
                    )
        if args.streams:
            fake_config(fake_port, latency_ms=args.stream_latency, chunks=args.chunks, chunk_ms=args.chunk_ms)
            for n in args.streams:
                profile = args.pyspy and name != "direct" and n == max(args.streams)
                res, rsrc = measured_best(
                    target,
                    fake_pid,
                    fake_port,
                    lambda: run_streams(target, n, args, workdir),
                    f"{name}-streams-{n}" if profile else None,
                )
                row = {"target": name, **res, **rsrc}
                row["cpu_ms_per_stream"] = round(1000 * rsrc["target_cpu_s"] / n, 3)
                row["services_cpu_ms_per_stream"] = round(1000 * rsrc["services_cpu_s"] / n, 3)
                results["streams"].append(row)
                log(
                    f"{name} streams={n}: ok={res['completed']} err={res['errors']} {res['error_kinds']} "
                    f"first p50={res['first_event_ms']['p50']} p99={res['first_event_ms']['p99']} "
                    f"rss={rsrc['peak_rss_mb']}MB cpu/stream={row['cpu_ms_per_stream']}ms "
                    f"(+pg/redis {row['services_cpu_ms_per_stream']}) busy={rsrc['cpu_busy_pct']} noise={rsrc['noise_pct']}%"
                )
                time.sleep(1)
        for kind in (["text", "tools"] if args.held_tools else ["text"]) if args.held else []:
            chunks = held_chunks(args)
            fake_config(fake_port, latency_ms=args.held_latency, chunks=chunks, chunk_ms=args.held_chunk_ms, stamp=1)
            profile = args.pyspy and name != "direct"
            # the tool-call variant: the same streams answered with two parallel calls' argument fragments
            body = {**target.stream_body(), "tools": BENCH_TOOLS} if kind == "tools" else None
            try:
                res, rsrc = measured_best(
                    target,
                    fake_pid,
                    fake_port,
                    lambda: run_held(target, args, workdir, body),
                    f"{name}-held-{kind}-{args.held}" if profile else None,
                )
            finally:
                fake_config(fake_port, chunks=args.chunks, chunk_ms=args.chunk_ms, stamp=0)
            row = {
                "target": name,
                "kind": kind,
                "chunks_per_stream": chunks,
                "chunk_ms": args.held_chunk_ms,
                **res,
                **rsrc,
            }
            row["cpu_ms_per_stream"] = round(1000 * rsrc["target_cpu_s"] / args.held, 3)
            # every chunk the client received, the role and finish chunks included
            row["cpu_us_per_chunk"] = (
                round(1e6 * rsrc["target_cpu_s"] / res["events_total"], 2) if res["events_total"] else None
            )
            row["cpu_pct_of_core"] = round(100 * rsrc["target_cpu_s"] / rsrc["wall_s"], 1)
            results["held"].append(row)
            log(
                f"{name} held={args.held} {kind}: ok={res['completed']} err={res['errors']} {res['error_kinds']} "
                f"first p50={res['first_event_ms']['p50']} p99={res['first_event_ms']['p99']} "
                f"relay delay p50={res['relay_delay_ms']['p50']} p99={res['relay_delay_ms']['p99']} "
                f"pss {res['pss_before_mb']}->{res['pss_peak_mb']}MB cpu/chunk={row['cpu_us_per_chunk']}us "
                f"cpu={row['cpu_pct_of_core']}% noise={rsrc['noise_pct']}%"
            )
    finally:
        target.stop()


def start_pyspy(target: Target, args, workdir: Path, label: str):
    """py-spy record on the busiest worker (most CPU so far) of the target tree."""
    if not shutil.which("py-spy"):
        log("py-spy not installed; no profile")
        return None
    pids = [p for p in tree(target.root_pid) if p != target.root_pid]
    if not pids:
        return None

    def cpu(p):
        st = _stat(p)
        return int(st[11]) + int(st[12]) if st else 0

    pid = max(pids, key=cpu)
    out = workdir / f"pyspy-{label}.txt"
    p = subprocess.Popen(
        [
            "taskset",
            "-c",
            LOAD_CPU,
            "py-spy",
            "record",
            "-p",
            str(pid),
            "-d",
            str(max(1, round(args.pyspy))),
            "-r",
            str(args.pyspy_rate),
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],
        stdout=open(workdir / f"pyspy-{label}.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    PROCS.append(p)
    return p, out, pid


def finish_pyspy(p: subprocess.Popen, out: Path, pid: int) -> dict:
    try:
        p.wait(timeout=args_global.pyspy + 30)
    except subprocess.TimeoutExpired:
        pass
    stop(p, grace=1)
    if not out.exists():
        err = out.with_suffix(".log")
        return {"pid": pid, "error": "no output: " + (err.read_text(errors="replace")[-500:] if err.exists() else "")}
    return {"pid": pid, "file": str(out), **pyspy_summary(out)}


# ---------------------------------------------------------------- report


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def report(results: dict) -> str:
    out = []
    direct = {(r["latency_ms"], r["concurrency"]): r for r in results["wrk"] if r["target"] == "direct"}
    if results["wrk"]:
        out.append("### Request/response (POST chat completion, non-streaming)\n")
        out.append(
            "| target | upstream latency ms | conc | req/s | % of direct | p50 ms | p90 ms | p99 ms "
            "| p50 overhead ms | p99 overhead ms | CPU ms/req | +PG/Redis CPU ms/req | peak RSS MB (sum) | PSS MB | errors "
            "| noise % |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results["wrk"]:
            d = direct.get((r["latency_ms"], r["concurrency"]))
            pct = 100.0 * r["rps"] / d["rps"] if d and d["rps"] and r["target"] != "direct" else None
            o50 = r["p50_ms"] - d["p50_ms"] if d and r["target"] != "direct" and r["p50_ms"] is not None else None
            o99 = r["p99_ms"] - d["p99_ms"] if d and r["target"] != "direct" and r["p99_ms"] is not None else None
            errs = r["non2xx"] + sum(r["socket_errors"].values())
            out.append(
                f"| {r['target']} | {r['latency_ms']} | {r['concurrency']} | {r['rps']:.0f} | {fmt(pct, 0)} "
                f"| {fmt(r['p50_ms'], 2)} | {fmt(r['p90_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {fmt(o50, 2)} "
                f"| {fmt(o99, 2)} | {fmt(r['cpu_ms_per_req'], 2)} | {fmt(r.get('services_cpu_ms_per_req'), 2)} | {r['peak_rss_mb']} | {r['pss_end_mb']} "
                f"| {errs} | {r.get('noise_pct', '-')} |"
            )
    if results["streams"]:
        sdirect = {r["streams"]: r for r in results["streams"] if r["target"] == "direct"}
        out.append("\n### Concurrent SSE streams\n")
        out.append(
            "| target | stream | streams | completed | errors | first event p50 ms | p99 ms | p50 overhead ms "
            "| p99 overhead ms | duration p50 ms | p99 ms | CPU ms/stream | +PG/Redis CPU ms/stream | peak RSS MB (sum) "
            "| PSS MB | noise % |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results["streams"]:
            d = sdirect.get(r["streams"])
            fe, du = r["first_event_ms"], r["duration_ms"]
            o50 = (
                fe["p50"] - d["first_event_ms"]["p50"]
                if d and r["target"] != "direct" and fe["p50"] is not None and d["first_event_ms"]["p50"] is not None
                else None
            )
            o99 = (
                fe["p99"] - d["first_event_ms"]["p99"]
                if d and r["target"] != "direct" and fe["p99"] is not None and d["first_event_ms"]["p99"] is not None
                else None
            )
            errs = f"{r['errors']}" + (f" {r['error_kinds']}" if r["errors"] else "")
            out.append(
                f"| {r['target']} | {r['streams']} | {r['completed']} | {errs} | {fmt(fe['p50'])} "
                f"| {fmt(fe['p99'])} | {fmt(o50)} | {fmt(o99)} | {fmt(du['p50'], 0)} | {fmt(du['p99'], 0)} "
                f"| {fmt(r['cpu_ms_per_stream'], 2)} | {fmt(r.get('services_cpu_ms_per_stream'), 2)} | {r['peak_rss_mb']} | {r['pss_end_mb']} "
                f"| {r.get('noise_pct', '-')} |"
            )
    if results.get("held"):
        first = results["held"][0]
        out.append(
            f"\n### Held streams: {first['streams']} streams arriving over {first['ramp_s']:g} s, each "
            f"{first['chunks_per_stream']} chunks {first['chunk_ms']:g} ms apart\n"
        )
        out.append(
            "| target | stream | streams | completed | errors | first event p50 ms | p99 ms | first-event overhead p50 ms "
            "| p99 ms | relay delay p50 ms | p99 ms | inter-chunk overhead p99 ms | CPU ms/stream "
            "| CPU µs/chunk | CPU % of core | PSS MB before | PSS MB peak | PSS KB per open stream | noise % |"
        )
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results["held"]:
            fe, rd = r["first_event_ms"], r["relay_delay_ms"]
            kind = r.get("kind", "text")
            d = next(
                (
                    h
                    for h in results["held"]
                    if h["target"] == "direct" and h.get("kind", "text") == kind and r["target"] != "direct"
                ),
                None,
            )

            def over(a, b):
                return a - b if a is not None and b is not None else None

            o50 = over(fe["p50"], d["first_event_ms"]["p50"]) if d else None
            o99 = over(fe["p99"], d["first_event_ms"]["p99"]) if d else None
            r99 = over(rd["p99"], d["relay_delay_ms"]["p99"]) if d else None
            errs = f"{r['errors']}" + (f" {r['error_kinds']}" if r["errors"] else "")
            out.append(
                f"| {r['target']} | {kind} | {r['streams']} | {r['completed']} | {errs} | {fmt(fe['p50'])} "
                f"| {fmt(fe['p99'])} "
                f"| {fmt(o50)} | {fmt(o99)} | {fmt(rd['p50'], 2)} | {fmt(rd['p99'], 2)} | {fmt(r99, 2)} "
                f"| {fmt(r['cpu_ms_per_stream'], 2)} | {fmt(r['cpu_us_per_chunk'])} | {r['cpu_pct_of_core']} "
                f"| {r['pss_before_mb']} | {r['pss_peak_mb']} | {r['pss_per_stream_kb']} | {r.get('noise_pct', '-')} |"
            )
    if results.get("idle"):
        out.append("\n### Idle after warm-up\n")
        out.append("| target | processes | CPU % | RSS MB (sum) | PSS MB |")
        out.append("|---|---:|---:|---:|---:|")
        for name, r in results["idle"].items():
            out.append(f"| {name} | {r['processes']} | {r['cpu_pct']} | {r['rss_mb']} | {r['pss_mb']} |")
    for f in results.get("failures", []):
        out.append(f"\n**{f['target']} failed:** {f['error']}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main

args_global = None


def main(argv: list[str] | None = None) -> int:
    global args_global
    p = argparse.ArgumentParser(
        description="llmgateway benchmark harness", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    p.add_argument(
        "--targets",
        default="direct,litellm,floor,gateway",
        help="comma list of direct, litellm, floor (bare Flask proxy on the same stack), gateway",
    )
    p.add_argument("--quick", action="store_true", help="short runs: 3 s, conc 1,64, streams 200 (for development)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of unrecorded load after a target starts")
    p.add_argument("--concurrency", default="1,16,64,256")
    p.add_argument("--latencies", default="0,50", help="upstream first-byte latencies (ms)")
    p.add_argument("--streams", default="200,1000,2000", help="concurrent stream counts ('' to skip)")
    p.add_argument("--stream-latency", type=float, default=50.0, help="upstream ms to first token for streams")
    p.add_argument("--chunks", type=int, default=20)
    p.add_argument("--chunk-ms", type=float, default=100.0)
    p.add_argument("--stream-ramp", type=float, default=1.0, help="spread stream starts over this many seconds")
    p.add_argument("--stream-timeout", type=float, default=60.0, help="bound on one stream run (s)")
    p.add_argument(
        "--held", type=int, default=2000, help="held-stream scenario: this many streams held open (0 = skip)"
    )
    p.add_argument(
        "--held-tools",
        type=int,
        default=1,
        help="also run the held scenario with tool-call streams "
        "(two parallel calls' argument fragments instead of text), to compare per-chunk relay CPU",
    )
    p.add_argument("--held-ramp", type=float, default=10.0, help="held streams arrive evenly over this many seconds")
    p.add_argument("--held-duration", type=float, default=30.0, help="each held stream lasts this long (s)")
    p.add_argument("--held-chunk-ms", type=float, default=500.0, help="a chunk every this many ms in held streams")
    p.add_argument("--held-latency", type=float, default=50.0, help="upstream ms to first token for held streams")
    p.add_argument("--no-wrk", action="store_true", help="streams only")
    p.add_argument("--litellm-bin", default="/work/bench-tmp/litellm-venv/bin/litellm")
    p.add_argument("--gateway-dir", default=str(REPO))
    p.add_argument("--gunicorn-bin", default=shutil.which("gunicorn") or "gunicorn")
    p.add_argument("--gateway-db", default="llmgw_bench")
    p.add_argument("--gateway-redis-db", type=int, default=15, help="Redis database the gateway uses (flushed)")
    p.add_argument("--gateway-health", default="/health")
    p.add_argument(
        "--gateway-migrate",
        default="auto",
        help="shell command run in --gateway-dir before start ('auto': alembic upgrade head if "
        "alembic.ini exists, '' for none)",
    )
    p.add_argument("--start-timeout", type=float, default=120.0)
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="max seconds to wait before each run for unrelated processes to calm down (0 = don't wait)",
    )
    p.add_argument(
        "--noisy-retries",
        type=int,
        default=2,
        help="re-run a measurement at most this many times "
        "when unrelated processes used more than 2x --quiet-pct during it; the quietest is kept",
    )
    p.add_argument("--quiet-pct", type=float, default=15.0, help="'quiet' = others use less than this %% of a core")
    p.add_argument(
        "--pyspy",
        type=float,
        default=0.0,
        help="seconds of py-spy record on a target worker during "
        "the highest-concurrency 0 ms run and the largest stream run (0 = off)",
    )
    p.add_argument("--pyspy-rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument("--workdir", default="", help="scratch dir (default: a new one under /work/bench-tmp or /tmp)")
    p.add_argument("--json", default=str(HERE / "results" / "latest.json"))
    args = p.parse_args(argv)
    args_global = args
    if args.quick:
        args.duration, args.warmup = min(args.duration, 3.0), min(args.warmup, 2.0)
        if args.concurrency == "1,16,64,256":
            args.concurrency = "1,64"
        if args.streams == "200,1000,2000":
            args.streams = "200"
        if args.held == 2000:
            args.held, args.held_ramp, args.held_duration = 200, 2.0, 5.0
    args.concurrency = [int(x) for x in args.concurrency.split(",") if x]
    args.latencies = [float(x) if "." in x else int(x) for x in args.latencies.split(",") if x]
    args.streams = [int(x) for x in args.streams.split(",") if x]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.gateway_migrate == "auto":
        args.gateway_migrate = "alembic upgrade head" if (Path(args.gateway_dir) / "alembic.ini").exists() else ""

    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install -y wrk util-linux)")
    if os.cpu_count() and os.cpu_count() < 2:
        sys.exit("needs 2 CPUs (target on CPU 0, load on CPU 1)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))  # inherited by every child

    base = Path("/work/bench-tmp") if Path("/work/bench-tmp").is_dir() else Path(tempfile.gettempdir())
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="run-", dir=base))
    workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = str(workdir)
    log(f"workdir {workdir}; nofile {resource.getrlimit(resource.RLIMIT_NOFILE)}")

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    results = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": sys.argv[1:],
            "targets": targets,
            "duration_s": args.duration,
            "concurrency": args.concurrency,
            "latencies_ms": args.latencies,
            "streams": args.streams,
            "stream_latency_ms": args.stream_latency,
            "chunks": args.chunks,
            "chunk_ms": args.chunk_ms,
            "stream_ramp_s": args.stream_ramp,
            "held": args.held,
            "held_ramp_s": args.held_ramp,
            "held_duration_s": args.held_duration,
            "held_chunk_ms": args.held_chunk_ms,
            "cpus": os.cpu_count(),
            "uname": " ".join(os.uname()),
            "python": sys.version.split()[0],
            "layout": "target on CPU 0; fake upstream, wrk and stream client on CPU 1",
        },
        "idle": {},
        "wrk": [],
        "streams": [],
        "held": [],
        "failures": [],
    }
    rc = 0
    try:
        fake_port = free_port()
        fake = start(
            [
                sys.executable,
                str(HERE / "fake_upstream.py"),
                "--port",
                str(fake_port),
                "--chunks",
                str(args.chunks),
                "--chunk-ms",
                str(args.chunk_ms),
            ],
            LOAD_CPU,
            workdir / "fake.log",
        )
        wait_http(f"http://127.0.0.1:{fake_port}/health", fake, 30)
        for name in targets:
            cls = {"direct": None, "litellm": LiteLLM, "floor": Floor, "gateway": Gateway}.get(name, "?")
            if cls == "?":
                sys.exit(f"unknown target {name}")
            t = Direct(args, workdir, fake_port, fake) if cls is None else cls(args, workdir, fake_port)
            try:
                bench_target(t, args, fake.pid, fake_port, workdir, results)
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                log(f"!!! {name} failed: {e}")
                results["failures"].append({"target": name, "error": str(e)})
                rc = 1
                t.stop()
    finally:
        stop_all()
        results["meta"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
            log(f"wrote {args.json}")
        print(report(results))
        for r in results["wrk"] + results["streams"]:
            if r.get("pyspy") and r["pyspy"].get("samples"):
                label = f"{r['target']} " + (
                    f"wrk c={r['concurrency']}" if "concurrency" in r else f"streams={r['streams']}"
                )
                print(
                    f"\n#### py-spy {label} (pid {r['pyspy']['pid']}, {r['pyspy']['samples']} samples) - top self frames\n"
                )
                for pct, fr in r["pyspy"]["self"][:15]:
                    print(f"- {pct}% {fr}")
                print("\ntop inclusive frames:\n")
                for pct, fr in r["pyspy"]["inclusive"][:40]:
                    print(f"- {pct}% {fr}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
