"""Schema migrations: Alembic upgrade to head, used at start-up and by `flask db upgrade`."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

#: The repository's migrations (source checkout, editable install), else the copy a regular install carries.
_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "migrations",
    Path(sys.prefix) / "share" / "llmgateway" / "migrations",
)
MIGRATIONS_DIR = next((path for path in _CANDIDATES if (path / "env.py").exists()), _CANDIDATES[0])


def alembic_config(database_url: str) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade_schema(database_url: str, revision: str = "head") -> None:
    """Create or upgrade the ledger schema; a no-op when it is current."""
    command.upgrade(alembic_config(database_url), revision)


def heads(database_url: str = "sqlite://") -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
