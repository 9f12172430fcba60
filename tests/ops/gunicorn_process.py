"""Runs the real gunicorn (gevent workers) in a subprocess on a free loopback port, for operations tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornProcess:
    """A started gunicorn master; `stderr_text()` is everything it and its workers logged so far."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, stderr_path: Path, stdout_path: Path) -> None:
        self.process = process
        self.url = url
        self.stderr_path = stderr_path
        self.stdout_path = stdout_path
        self.health_probes = 0  # GET /health answered while waiting for the start (they are counted in metrics)

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        """Every stderr line parsed as JSON (a line that is not JSON fails the caller's test)."""
        return [json.loads(line) for line in self.stderr_text().splitlines() if line.strip()]

    def request_records(self) -> list[dict[str, Any]]:
        return [r for r in self.log_records() if r.get("logger") == "llmgateway.request"]


def wait_for_log(gunicorn: GunicornProcess, request_ids: set[str], timeout: float = 10.0) -> None:
    """Wait (bounded) until a request line was logged for each id (lines are written when the body is done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logged = {r.get("request_id") for r in gunicorn.request_records()}
        if request_ids <= logged:
            return
        time.sleep(0.1)
    raise AssertionError(f"{len(request_ids - logged)} request lines never appeared")


@contextmanager
def run_gunicorn(
    tmp_path: Path, config: dict[str, Any], *, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[GunicornProcess]:
    """Start `gunicorn -c gunicorn.conf.py wsgi:app` with a YAML config; always stopped on exit."""
    config_path = tmp_path / "gateway.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "OTEL_", "LLMGATEWAY_"))}
    child_env.update(
        LLMGATEWAY_CONFIG=str(config_path),
        PORT=str(port),
        HOST="127.0.0.1",
        WEB_CONCURRENCY=str(workers),
        GRACEFUL_TIMEOUT="5",
        **(env or {}),
    )
    stderr_path, stdout_path = tmp_path / "gunicorn.stderr", tmp_path / "gunicorn.stdout"
    with stderr_path.open("wb") as err, stdout_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=child_env, stdout=out, stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    gunicorn = GunicornProcess(process, url, stderr_path, stdout_path)
    try:
        _wait_until_serving(gunicorn, workers)
        yield gunicorn
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_serving(gunicorn: GunicornProcess, workers: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gunicorn.process.poll() is not None:
            raise AssertionError(f"gunicorn exited early:\n{gunicorn.stderr_text()[-3000:]}")
        booted = gunicorn.stderr_text().count("Booting worker")
        try:
            if booted >= workers and requests.get(gunicorn.url + "/health", timeout=1).status_code == 200:
                gunicorn.health_probes += 1
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not start:\n{gunicorn.stderr_text()[-3000:]}")
