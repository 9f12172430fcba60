"""The usage ledger: rows are made durable in a local spool on the request path; a background drainer inserts
them in batches, idempotently by request id, and deletes spooled rows only after the commit."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Engine, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from llmgateway.config import Settings
from llmgateway.infra.db import off_hub
from llmgateway.infra.dead_letters import DeadLetters, refused_for_its_data
from llmgateway.infra.models import UsageRecord
from llmgateway.infra.spool import Segment, UsageSpool, decode_row, default_spool_dir, encode_row

log = logging.getLogger(__name__)


class SqlUsageWriter:
    """Inserts batches of usage rows with ON CONFLICT (request_id) DO NOTHING."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
        self._blocking = engine.dialect.name == "sqlite"
        table = UsageRecord.__table__
        # A spooled row may come from an older or newer version: every row gets exactly the table's columns
        # (a missing one takes its default), since one batch insert needs the same keys in every row.
        self._defaults = {
            column.key: column.default.arg if column.default is not None and column.default.is_scalar else None
            for column in table.columns
        }

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        table = cast(Table, UsageRecord.__table__)
        statement = self._insert(table).on_conflict_do_nothing(index_elements=["request_id"])
        shaped = [{key: row.get(key, default) for key, default in self._defaults.items()} for row in rows]

        def run() -> None:
            with self.engine.begin() as connection:
                connection.execute(statement, shaped)

        if self._blocking:
            off_hub(run)
        else:
            run()


class UsageLedger:
    """Durable, non-blocking hand-off of usage rows: the spool on the request path, one drainer per process.

    `record` returns once the row is fsync'd in the spool (never waiting on the database); the drainer seals
    the active segment every `flush_interval`, inserts its rows idempotently and deletes it after the commit.
    It also claims segments left by dead processes (their flock is free) every `scan_interval`.
    """

    def __init__(
        self,
        writer: SqlUsageWriter,
        spool: UsageSpool,
        *,
        dead_letters: DeadLetters | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        scan_interval: float = 5.0,
    ) -> None:
        self._writer = writer
        self.spool = spool
        self.dead_letters = dead_letters or DeadLetters(writer.engine, spool.directory)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._scan_interval = scan_interval
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._next_scan = 0.0
        self._last_seal = time.monotonic()
        self._outage_since: float | None = None
        self._last_warning = 0.0

    @property
    def backlog(self) -> int:
        """Rows recorded and not yet committed to the database (spool and memory)."""
        return self.spool.backlog

    @property
    def full(self) -> bool:
        """The spool reached its cap: new usage requests are refused until it drains."""
        return self.spool.full

    def record(self, row: dict[str, Any]) -> None:
        """Make the row durable in the spool (group-committed fsync, off the hub); never waits on the database."""
        self.start()
        self.spool.append(encode_row(row))

    def start(self) -> None:
        """Start the drainer (idempotent); in a gunicorn worker this runs at worker start to recover orphans."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name="usage-ledger", daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Commit everything recorded so far (and any orphaned segments); True when the backlog is empty."""
        deadline = time.monotonic() + timeout
        self._next_scan = 0.0
        while time.monotonic() < deadline:
            if self._drain(deadline, everything=True) and self.backlog == 0:
                return True
            time.sleep(0.02)
        return self.backlog == 0

    def close(self, timeout: float = 10.0) -> None:
        """Stop the drainer, commit what it can within `timeout`, and leave the rest in the spool."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)
        self.flush(timeout)
        if self.backlog:
            log.warning(
                "ledger closed with %d rows still spooled in %s; the next start recovers them",
                self.backlog,
                self.spool.directory,
            )
        self.spool.close()

    # -- the drainer -------------------------------------------------------------------------
    def _run(self) -> None:
        delay = self._flush_interval
        while not self._stopping.is_set():
            ok = self._drain(None, everything=False)
            delay = self._flush_interval if ok else min(max(delay * 2, 0.1), 5.0)
            self._wake.wait(delay)
            self._wake.clear()

    def _drain(self, deadline: float | None, *, everything: bool) -> bool:
        """One pass: claim orphans when due, seal the active segment when due, commit held segments in order."""
        with self._drain_lock:
            now = time.monotonic()
            if now >= self._next_scan:
                self._next_scan = now + self._scan_interval
                self.spool.claim_orphans()
            if (
                not self.spool.held()
                and self.spool.active_rows
                and (everything or now - self._last_seal >= self._flush_interval)
            ):
                self.spool.seal()
                self._last_seal = now
            for segment in self.spool.held():
                if not self._commit_segment(segment, deadline):
                    return False
                self.spool.release(segment)
            return self._commit_overflow(deadline)

    def _commit_segment(self, segment: Segment, deadline: float | None) -> bool:
        batch: list[dict[str, Any]] = []
        end = segment.offset
        for end, row in segment.read():
            batch.append(row)
            if len(batch) >= self._batch_size:
                if not self._commit(batch, deadline):
                    return False
                segment.offset, segment.drained_rows = end, segment.drained_rows + len(batch)
                batch = []
        if batch and not self._commit(batch, deadline):
            return False
        segment.offset, segment.drained_rows = end, segment.rows
        return True

    def _commit_overflow(self, deadline: float | None) -> bool:
        overflow = self.spool.overflow
        while overflow:
            lines = [overflow[i] for i in range(min(self._batch_size, len(overflow)))]
            if not self._commit([decode_row(line) for line in lines], deadline):
                return False
            for _ in lines:
                overflow.popleft()
        return True

    def _commit(self, batch: list[dict[str, Any]], deadline: float | None) -> bool:
        """Insert one batch, retrying outages with backoff until `deadline` (once when there is none); rows the
        database refuses for their data are set aside as dead letters and the rest still land."""
        delay = 0.1
        while True:
            try:
                self._insert_or_set_aside(batch)
            except Exception as exc:  # an outage (or an unforeseen error): the rows stay in the spool
                self._note_outage(exc)
                if deadline is None or time.monotonic() + delay > deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if self._outage_since is not None:
                log.warning(
                    "ledger database reachable again after %.1f s; writing %d spooled rows",
                    time.monotonic() - self._outage_since,
                    self.backlog,
                )
                self._outage_since = None
            return True

    def _insert_or_set_aside(self, batch: list[dict[str, Any]]) -> None:
        """Insert `batch`; when the database refuses it for its data, halve it until the refused rows are alone,
        insert the others and set those aside. Outage errors propagate (a retry is idempotent)."""
        try:
            self._writer.write(batch)
        except Exception as exc:
            if not refused_for_its_data(exc):
                raise
            if len(batch) == 1:
                self.dead_letters.set_aside(batch[0], exc)
                return
            middle = len(batch) // 2
            self._insert_or_set_aside(batch[:middle])
            self._insert_or_set_aside(batch[middle:])

    def _note_outage(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
        if now - self._last_warning >= 10.0:
            self._last_warning = now
            log.warning(
                "ledger write failed (%s); %d rows kept in the spool at %s (%d bytes)",
                type(exc).__name__,
                self.backlog,
                self.spool.directory,
                self.spool.size,
            )


def build_ledger(settings: Settings, engine: Engine) -> UsageLedger:
    """The ledger of one process: its spool directory (one per database) and its drainer settings."""
    config = settings.ledger
    spool = UsageSpool(
        default_spool_dir(settings.database.url, config.spool_dir), max_bytes=config.spool_max_mb * 1024 * 1024
    )
    writer = SqlUsageWriter(engine)
    return UsageLedger(writer, spool, batch_size=config.batch_size, flush_interval=config.flush_interval)
