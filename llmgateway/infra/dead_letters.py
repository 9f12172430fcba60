"""Dead letters of the usage ledger: rows the database refused for their data (not for an outage), set aside in
a table, or in a file beside the spool when the table cannot take them, so one bad row never stops billing."""

from __future__ import annotations

import builtins
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Engine, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from llmgateway.infra.db import db_call
from llmgateway.infra.models import UsageDeadLetter
from llmgateway.infra.spool import encode_row

log = logging.getLogger(__name__)

FILE_NAME = "dead-letters.jsonl"
MAX_ERROR_CHARS = 2000


def refused_for_its_data(exc: BaseException) -> bool:
    """The database (or its driver) refused the rows themselves: retrying them can never succeed.

    DataError (a value out of range, a NUL byte) and IntegrityError (a constraint) come from the server; a
    StatementError that is not a DBAPIError, OverflowError, TypeError and ValueError come from binding a value the
    driver cannot send (SQLite's 64-bit integers). Everything else (OperationalError, InterfaceError, …) is an
    outage: the rows wait in the spool.
    """
    if isinstance(exc, (DataError, IntegrityError)):
        return True
    if isinstance(exc, DBAPIError):
        return False
    if isinstance(exc, StatementError):
        return True
    return isinstance(exc, (OverflowError, TypeError, ValueError))


def describe(exc: BaseException) -> str:
    """The error without the statement's parameters (the row is kept whole beside it)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(exc).__name__}: {text}"[:MAX_ERROR_CHARS]


class DeadLetters:
    """Sets refused rows aside (idempotently: an entry's id is a hash of its row) and lists them."""

    def __init__(self, engine: Engine, directory: Path) -> None:
        self._engine = engine
        self._insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
        self.path = directory / FILE_NAME
        self.count = 0  # set aside by this process
        self._listeners: list[Callable[[], None]] = []
        self._file_lock = threading.Lock()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` once for every row set aside (metrics count them)."""
        self._listeners.append(listener)

    def set_aside(self, row: dict[str, Any], exc: BaseException) -> None:
        line = encode_row(row).rstrip(b"\n").decode()
        entry = {
            "id": hashlib.sha256(line.encode()).hexdigest(),
            "request_id": str(row.get("request_id"))[:200],
            "failed_at": datetime.now(UTC).replace(tzinfo=None),
            "error": describe(exc),
            "row": line,
        }
        where = "the usage_dead_letters table"
        try:
            self._store(entry)
        except SQLAlchemyError as table_error:
            where = str(self.path)
            self._append_to_file(entry, table_error)
        self.count += 1
        log.error(
            "ledger: usage row %s refused by the database (%s); set aside in %s, the drain goes on",
            entry["request_id"],
            entry["error"],
            where,
        )
        for listener in self._listeners:
            listener()

    def list(self) -> list[dict[str, Any]]:
        """Every dead letter, from the table (when reachable) and the file, oldest first, each once."""
        found: dict[str, dict[str, Any]] = {}
        try:
            with self._engine.connect() as connection:
                for row in connection.execute(select(UsageDeadLetter.__table__)).mappings():
                    found[row["id"]] = {**row, "failed_at": row["failed_at"].isoformat(), "stored_in": "table"}
        except SQLAlchemyError as exc:
            log.warning("dead letters: the table could not be read (%s)", describe(exc))
        for item in self._read_file():
            found.setdefault(item["id"], {**item, "stored_in": "file"})
        return sorted(found.values(), key=lambda item: item["failed_at"])

    def _store(self, entry: dict[str, Any]) -> None:
        statement = self._insert(cast(Table, UsageDeadLetter.__table__)).on_conflict_do_nothing(index_elements=["id"])

        def run() -> None:
            with self._engine.begin() as connection:
                connection.execute(statement, [entry])

        db_call(self._engine, run)

    def _append_to_file(self, entry: dict[str, Any], table_error: BaseException) -> None:
        data = (
            orjson.dumps({**entry, "failed_at": entry["failed_at"].isoformat(), "table_error": describe(table_error)})
            + b"\n"
        )
        with self._file_lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def _read_file(self) -> builtins.list[dict[str, Any]]:  # `list` here is the method above
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(item, dict) and "id" in item:
                out.append(item)
        return out
