"""Schema migrations: Alembic upgrade to head, used at start-up and by `flask db upgrade`.

Alembic is imported only when a migration runs: gunicorn workers find the schema ready and never load it
(about 100 ms of start-up and several MB per worker).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

#: The repository's migrations (source checkout, editable install), else the copy a regular install carries.
_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "migrations",
    Path(sys.prefix) / "share" / "llmgateway" / "migrations",
)
MIGRATIONS_DIR = next((path for path in _CANDIDATES if (path / "env.py").exists()), _CANDIDATES[0])


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade_schema(database_url: str, revision: str = "head") -> None:
    """Create or upgrade the ledger schema; a no-op when it is current."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def heads(database_url: str = "sqlite://") -> list[str]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
