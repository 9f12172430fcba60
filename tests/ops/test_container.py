"""The container files: what can be checked without a Docker engine (lint, compose model, the entrypoint run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import requests
import yaml

from tests.conftest import base_config
from tests.gunicorn_runner import ROOT, free_port

SEED_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "COHERE_API_KEY",
    "HUGGINGFACE_API_KEY",
    "JWT_SECRET",
    "API_KEY",
    "LLMGATEWAY_SECRET_KEY",
)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_gateway_postgres_and_redis_with_healthchecks_and_a_volume():
    services = compose()["services"]
    assert set(services) == {"gateway", "postgres", "redis"}
    assert all("healthcheck" in service for service in services.values())
    gateway = services["gateway"]
    assert gateway["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    env = gateway["environment"]
    assert set(SEED_ENV) <= set(env)
    for name in SEED_ENV:  # taken from .env / the shell, never written into the file
        assert env[name].startswith("${" + name), name
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://") and env["REDIS_URL"].startswith("redis://redis:")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])


def dockerfile_entrypoint() -> list[str]:
    """The image's ENTRYPOINT (exec form), to run exactly what the container runs."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    line = next(text for text in lines if text.startswith("ENTRYPOINT "))
    return json.loads(line.removeprefix("ENTRYPOINT "))


def test_dockerfile_is_slim_non_root_healthchecked_and_without_secrets():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in text and '".[postgres]"' in text
    env_names = re.findall(r"(\w+)=", " ".join(re.findall(r"^ENV .*(?:\\\n.*)*", text, re.M)))
    assert not set(env_names) & {*SEED_ENV, "DATABASE_PASSWORD", "POSTGRES_PASSWORD"}
    entrypoint = " ".join(dockerfile_entrypoint())
    assert "db upgrade" in entrypoint and "exec gunicorn -c gunicorn.conf.py wsgi:app" in entrypoint
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed")
def test_hadolint_finds_nothing():
    result = subprocess.run(["hadolint", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_accepts_the_file_and_requires_the_shared_secrets():
    base = {"PATH": os.environ["PATH"], "HOME": "/tmp"}
    secrets = {"JWT_SECRET": "j" * 40, "LLMGATEWAY_SECRET_KEY": "s" * 40}
    ok = subprocess.run(
        ["docker-compose", "config", "-q"],
        cwd=ROOT,
        env={**base, **secrets},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode != 0 and "JWT_SECRET" in missing.stderr


@pytest.mark.slow
def test_the_entrypoint_upgrades_the_schema_then_serves(tmp_path, pg_url, fake_openai):
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(base_config(pg_url, fake_openai.url, api_keys=[])))
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LLMGATEWAY_CONFIG": str(config),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "GRACEFUL_TIMEOUT": "5",
    }
    out = (tmp_path / "out").open("wb")
    process = subprocess.Popen(dockerfile_entrypoint(), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        ready = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, (tmp_path / "out").read_text()[-2000:]
        assert ready.json()["checks"]["database"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)  # exec'd: gunicorn itself gets the signal
        process.wait(timeout=20)
        out.close()
    log = (tmp_path / "out").read_text()
    assert "database schema is up to date" in log and "Booting worker" in log
    assert process.returncode == 0
