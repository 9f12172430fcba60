"""Helpers for the resilience tests: fast retry settings, the fake's provider section, a real gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import base_config
from tests.fakes.openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
#: Retries that keep the tests quick: tiny backoff, the default three attempts.
FAST_RETRIES = {"max_attempts": 3, "backoff_base": 0.01, "backoff_max": 0.05}


def openai_section(fake: FakeOpenAI, **settings: Any) -> dict[str, Any]:
    """The `providers` section pointing OpenAI at the fake, with extra provider settings."""
    return {"openai": {"api_key": FakeOpenAI.api_key, "base_url": fake.url + "/v1", **settings}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_gateway(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start the gateway under real gunicorn with gevent workers; returns its base URL. Always stopped."""
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []

    def start(db_url: str, openai_url: str, workers: int = 1, **sections: Any) -> str:
        config = base_config(db_url, openai_url, **sections)
        path = tmp_path / f"gateway-{len(procs)}.yaml"
        path.write_text(yaml.safe_dump(config))
        port = free_port()
        env = {**os.environ, "LLMGATEWAY_CONFIG": str(path), "PORT": str(port), "HOST": "127.0.0.1",
               "WEB_CONCURRENCY": str(workers), "GRACEFUL_TIMEOUT": "5"}
        log = open(tmp_path / f"gunicorn-{len(procs)}.log", "wb")  # noqa: SIM115 - closed after the process
        logs.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {(tmp_path / f'gunicorn-{len(procs) - 1}.log').read_text()}")
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    return url
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not become healthy")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for log in logs:
        log.close()
