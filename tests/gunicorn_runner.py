"""Runs the real gateway under gunicorn with gevent workers for tests that need process behaviour."""

from __future__ import annotations

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornGateway:
    """`gunicorn -c gunicorn.conf.py wsgi:app` in a subprocess, configured by a YAML file in `workdir`."""

    def __init__(self, workdir: Path, config: dict[str, Any], *, workers: int = 2, env: dict[str, str] | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_path = workdir / f"gateway-{self.port}.yaml"
        config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"gunicorn-{self.port}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k not in ("DATABASE_URL",
                                                                                               "REDIS_URL")},
            "LLMGATEWAY_CONFIG": str(config_path),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": str(workers),
            "GRACEFUL_TIMEOUT": "10",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    def start(self, timeout: float = 30.0) -> GunicornGateway:
        self._log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--chdir", str(ROOT), "wsgi:app"],
            env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT, cwd=self.workdir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log()}")
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> GunicornGateway:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
