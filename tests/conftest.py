"""Shared fixtures: fake providers on 127.0.0.1, app factories on SQLite and PostgreSQL, real Redis."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from llmgateway import create_app
from tests.fakes.openai import FakeOpenAI

PG_HOST = os.environ.get("LLMGATEWAY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("LLMGATEWAY_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
REDIS_URL = os.environ.get("LLMGATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

ADMIN_KEY = "test-admin-key-0123456789abcdef"
COMPLETION_KEY = "test-completion-key-0123456789ab"
EMBEDDING_KEY = "test-embedding-key-0123456789abc"


def service_missing(what: str, exc: BaseException) -> None:
    """Integration services are mandatory in CI; locally a missing one skips the test."""
    message = f"{what} unavailable: {exc}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Print why a test marked flaky failed before its rerun (pytest-rerunfailures otherwise keeps it quiet), so
    a CI log holds the evidence needed to find the cause."""
    if report.outcome == "rerun":
        sys.stderr.write(f"\n[rerun] {report.nodeid} failed its first attempt:\n{report.longreprtext[-4000:]}\n")


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()


def base_config(db_url: str, openai_url: str | None = None, **sections: Any) -> dict[str, Any]:
    """A complete test configuration: explicit secrets, three keys, the fake OpenAI upstream."""
    config: dict[str, Any] = {
        "database": {"url": db_url},
        "secret_key": "test-pepper-" + "x" * 40,
        "jwt": {"secret": "test-jwt-secret-" + "y" * 40},
        "logging": {"level": "WARNING"},
        "rate_limits": {"enabled": False},
        # One attempt: error-mapping tests see the upstream's answer; tests/resilience sets its own retries.
        "retries": {"max_attempts": 1},
        "api_keys": [
            {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
            {"key": COMPLETION_KEY, "owner": "Team A", "permissions": ["completion"]},
            {"key": EMBEDDING_KEY, "owner": "Team B", "permissions": ["embedding"]},
        ],
        "providers": {},
    }
    if openai_url:
        config["providers"]["openai"] = {"api_key": FakeOpenAI.api_key, "base_url": openai_url + "/v1"}
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(name), dict):
            config[name] = {**config[name], **value}
        else:
            config[name] = value
    return config


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        service_missing("PostgreSQL", exc)
    name = f"llmgw_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The machine's Redis (db 15), flushed before and after."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    yield REDIS_URL
    client.flushdb()
    client.close()


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(sqlite_url: str, fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps on SQLite with the fake OpenAI; keyword sections override the base config."""
    apps: list[Flask] = []

    def factory(db_url: str | None = None, **sections: Any) -> Flask:
        ledger = {"spool_dir": str(tmp_path / "spool"), **sections.pop("ledger", {})}  # one spool per test
        app = create_app(base_config(db_url or sqlite_url, fake_openai.url, ledger=ledger, **sections))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["llmgateway"].close()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def auth(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"X-API-Key": key}


def ledger_rows(app: Flask) -> list[dict[str, Any]]:
    """Every usage record, after flushing the writer."""
    from sqlalchemy import select

    from llmgateway.infra.models import UsageRecord

    svc = app.extensions["llmgateway"]
    assert svc.ledger.flush(10), "ledger did not drain"
    with svc.sessions() as session:
        rows = session.scalars(select(UsageRecord).order_by(UsageRecord.created_at)).all()
        return [{c.key: getattr(r, c.key) for c in UsageRecord.__mapper__.column_attrs} for r in rows]


CHAT = {"model": "openai.gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture(scope="session")
def other_fakes() -> Iterator[dict[str, Any]]:
    """Fake Anthropic, Cohere and HuggingFace-router upstreams for gateway-level tests."""
    from tests.fakes.anthropic import FakeAnthropic
    from tests.fakes.cohere import FakeCohere
    from tests.fakes.huggingface import FakeHuggingFace

    fakes = {"anthropic": FakeAnthropic(), "cohere": FakeCohere(), "huggingface": FakeHuggingFace("router")}
    for fake in fakes.values():
        fake.start()
    yield fakes
    for fake in fakes.values():
        fake.stop()


def all_providers_config(fake_openai: FakeOpenAI, fakes: dict[str, Any]) -> dict[str, Any]:
    """The providers section with all four fake upstreams."""
    return {
        "openai": {"api_key": FakeOpenAI.api_key, "base_url": fake_openai.url + "/v1"},
        "anthropic": {"api_key": fakes["anthropic"].api_key, "base_url": fakes["anthropic"].url},
        "cohere": {"api_key": fakes["cohere"].api_key, "base_url": fakes["cohere"].url},
        "huggingface": {"api_key": fakes["huggingface"].router_key, "base_url": fakes["huggingface"].url},
    }
