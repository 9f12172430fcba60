"""Runs the real gateway under gunicorn (gevent workers) in a subprocess on a free loopback port, for the tests that
need process behaviour; also the free-port helper of every test that owns a process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Variables of the test process that must not configure the child: it gets everything from its YAML file.
_NOT_INHERITED_PREFIXES = ("PROMETHEUS_", "OTEL_", "LLMGATEWAY_")
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornGateway:
    """`gunicorn -c gunicorn.conf.py wsgi:app` configured by a YAML file in `workdir`; stdout and stderr go to
    files there. `start()` returns once /health answers and every worker is up; `stop()` always ends it."""

    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        *,
        workers: int = 2,
        graceful_timeout: int = 5,
        env: dict[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.worker_count = workers
        name = name or f"gateway-{self.port}"
        config_path = workdir / f"{name}.yaml"
        config_path.write_text(yaml.safe_dump(config))
        self.stdout_path, self.stderr_path = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.endswith("_API_KEY") and k not in _NOT_INHERITED and not k.startswith(_NOT_INHERITED_PREFIXES)
            },
            "LLMGATEWAY_CONFIG": str(config_path),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": str(workers),
            "GRACEFUL_TIMEOUT": str(graceful_timeout),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.health_probes = 0  # GET /health answered while waiting for the start (metrics count them)

    def start(self, timeout: float = 30.0) -> GunicornGateway:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()[-3000:]}")
            try:
                if len(self.workers()) >= self.worker_count and self._healthy():
                    return self
            except (requests.RequestException, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start:\n{self.log()[-3000:]}")

    def _healthy(self) -> bool:
        if requests.get(f"{self.url}/health", timeout=1).status_code != 200:
            return False
        self.health_probes += 1
        return True

    def workers(self) -> list[int]:
        """The worker pids (children of the master)."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    # -- what it wrote -------------------------------------------------------------------------
    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def log(self) -> str:
        return self.stderr_text() + self.stdout_text()

    def log_records(self) -> list[dict[str, Any]]:
        """Every stderr line parsed as JSON (a line that is not JSON fails the caller's test)."""
        return [json.loads(line) for line in self.stderr_text().splitlines() if line.strip()]

    def request_records(self) -> list[dict[str, Any]]:
        return [r for r in self.log_records() if r.get("logger") == "llmgateway.request"]

    def wait_for_request_lines(self, request_ids: set[str], timeout: float = 10.0) -> None:
        """Wait (bounded) until a request line was logged for each id (lines are written when the body is done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logged = {r.get("request_id") for r in self.request_records()}
            if request_ids <= logged:
                return
            time.sleep(0.1)
        raise AssertionError(f"{len(request_ids - logged)} request lines never appeared")

    # -- ending it -----------------------------------------------------------------------------
    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the master (a graceful stop); the whole process group is killed if it outlasts `timeout`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the master, and any worker it left behind
        except ProcessLookupError:
            pass
        self.process.wait(5)

    def __enter__(self) -> GunicornGateway:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
