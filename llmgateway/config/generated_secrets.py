"""The secrets file: a pepper and a JWT secret generated once beside an embedded SQLite database when the settings
lack them; a shared database requires both to be configured."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import replace
from pathlib import Path

from llmgateway.config.types import Settings
from llmgateway.errors import ConfigError


def secrets_path(settings: Settings) -> Path:
    """`<database>.secrets` beside a SQLite file, else llmgateway.secrets in the working directory."""
    url = settings.database.url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).expanduser().resolve().with_suffix(".secrets")
    return Path("llmgateway.secrets").resolve()


def with_generated_secrets(settings: Settings) -> Settings:
    """Fill a missing pepper or JWT secret from a 0600 file beside the embedded SQLite database, creating it once.

    A shared database (PostgreSQL) means a fleet: each instance would generate its own file, so a key created
    through one would be refused by the others and JWTs would be per instance. There, missing secrets stop start-up.
    """
    if settings.secret_key and settings.jwt.secret:
        return settings
    if not settings.is_sqlite:
        missing = [
            name
            for name, value in (("LLMGATEWAY_SECRET_KEY", settings.secret_key), ("JWT_SECRET", settings.jwt.secret))
            if not value
        ]
        raise ConfigError(
            settings.source,
            "secret_key / jwt.secret",
            f"{' and '.join(missing)} not set. With a shared database every instance must be given the same "
            "LLMGATEWAY_SECRET_KEY and JWT_SECRET (32+ characters each; or secret_key and jwt.secret in the "
            "config file): generated secrets would differ per instance, so keys and tokens made by one instance "
            "would be refused by the others",
        )
    path = secrets_path(settings)
    stored: dict[str, str] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(str(path), "(file)", "the generated secrets file is unreadable") from exc
    changed = False
    for name in ("secret_key", "jwt_secret"):
        if not stored.get(name):
            stored[name] = secrets.token_urlsafe(48)
            changed = True
    if changed:
        stored = _write_once(path, stored)
    return replace(
        settings,
        secret_key=settings.secret_key or stored["secret_key"],
        jwt=replace(settings.jwt, secret=settings.jwt.secret or stored["jwt_secret"]),
    )


def _write_once(path: Path, wanted: dict[str, str]) -> dict[str, str]:
    """Create the secrets file atomically; if another process won the race, use what it wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(wanted, handle)
    if path.exists():
        os.replace(tmp, path)  # an existing file lacked a field: complete it
        return wanted
    try:
        os.link(tmp, path)  # fails if a concurrent worker created it first
    except FileExistsError:
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    finally:
        tmp.unlink(missing_ok=True)
    return wanted
