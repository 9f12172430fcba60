"""S14: a fleet never splits its secrets. With a shared database and no pepper or JWT secret configured,
start-up stops with a message naming both; the generated secrets file stays the embedded SQLite default's."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgateway import create_app
from llmgateway.config import load_settings, with_generated_secrets
from llmgateway.errors import ConfigError
from tests.conftest import base_config
from tests.gunicorn_runner import GunicornGateway

NAMES = ("LLMGATEWAY_SECRET_KEY", "JWT_SECRET")


def test_a_shared_database_without_secrets_stops_start_up(pg_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        create_app({"database": {"url": pg_url}, "logging": {"level": "WARNING"}})
    message = str(caught.value)
    assert all(name in message for name in NAMES), message
    assert not list(tmp_path.iterdir()), "no per-instance secrets file is written"


@pytest.mark.parametrize("present", [{"LLMGATEWAY_SECRET_KEY": "p" * 40}, {"JWT_SECRET": "j" * 40}])
def test_one_secret_is_not_enough_for_a_fleet(pg_url, tmp_path, monkeypatch, present):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={"DATABASE_URL": pg_url, **present})
    with pytest.raises(ConfigError) as caught:
        with_generated_secrets(settings)
    assert all(name in str(caught.value) for name in NAMES)
    assert not list(tmp_path.iterdir())


def test_a_fleet_with_both_secrets_starts(pg_url):
    settings = with_generated_secrets(
        load_settings(environ={"DATABASE_URL": pg_url, "LLMGATEWAY_SECRET_KEY": "p" * 40, "JWT_SECRET": "j" * 40})
    )
    assert (settings.secret_key, settings.jwt.secret) == ("p" * 40, "j" * 40)


def test_the_embedded_sqlite_default_still_generates_its_secrets(tmp_path):
    settings = with_generated_secrets(load_settings(environ={"DATABASE_URL": f"sqlite:///{tmp_path}/gw.db"}))
    assert settings.secret_key and settings.jwt.secret and (tmp_path / "gw.secrets").exists()


@pytest.mark.slow
def test_gunicorn_on_postgresql_without_secrets_refuses_to_start(tmp_path: Path, pg_url, fake_openai):
    config = base_config(pg_url, fake_openai.url)
    del config["secret_key"], config["jwt"]
    gateway = GunicornGateway(tmp_path, config, workers=1, env={name: "" for name in NAMES})
    with pytest.raises(RuntimeError) as caught:
        gateway.start(timeout=20)
    gateway.stop()
    assert "gunicorn exited early" in str(caught.value)
    assert all(name in gateway.log() for name in NAMES)
    assert not Path("llmgateway.secrets").exists() and not (tmp_path / "llmgateway.secrets").exists()
