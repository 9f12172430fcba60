"""The usage ledger writer: the request path hands rows over without waiting; a background writer inserts
them in batches, idempotently by request id."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from llmgateway.infra.db import off_hub
from llmgateway.infra.models import UsageRecord

log = logging.getLogger(__name__)


class SqlUsageWriter:
    """Inserts batches of usage rows with ON CONFLICT (request_id) DO NOTHING."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
        self._blocking = engine.dialect.name == "sqlite"

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = self._insert(UsageRecord.__table__).on_conflict_do_nothing(index_elements=["request_id"])

        def run() -> None:
            with self._engine.begin() as connection:
                connection.execute(statement, list(rows))

        if self._blocking:
            off_hub(run)
        else:
            run()


class UsageLedger:
    """Non-blocking hand-off of usage rows to one background writer per process."""

    def __init__(
        self, writer: SqlUsageWriter, *, batch_size: int = 500, flush_interval: float = 0.5, max_queue: int = 100_000
    ) -> None:
        self._writer = writer
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        self._pending: list[dict[str, Any]] = []
        self.written = 0
        self.failures = 0

    @property
    def backlog(self) -> int:
        return self._queue.qsize() + len(self._pending)

    def record(self, row: dict[str, Any]) -> None:
        """Hand a row over; never blocks the request (a full queue is written through instead)."""
        self._ensure_started()
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            log.warning("ledger queue full; writing through")
            self._write_with_retry([row], deadline=time.monotonic() + 5)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far; True when the backlog is empty."""
        deadline = time.monotonic() + timeout
        while self.backlog and time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                self._drain_once(deadline)
            else:
                time.sleep(0.01)
        return self.backlog == 0

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=1)

    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name="usage-ledger", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._drain_once(None)

    def _drain_once(self, deadline: float | None) -> None:
        try:
            first = self._queue.get(timeout=self._flush_interval) if not self._pending else None
        except queue.Empty:
            return
        if first is not None:
            self._pending.append(first)
        while len(self._pending) < self._batch_size:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        batch = self._pending
        if self._write_with_retry(batch, deadline):
            self.written += len(batch)
            self._pending = []

    def _write_with_retry(self, batch: list[dict[str, Any]], deadline: float | None) -> bool:
        delay = 0.1
        while True:
            try:
                self._writer.write(batch)
                return True
            except SQLAlchemyError as exc:
                self.failures += 1
                log.warning("ledger write failed (%s rows pending): %s", len(batch), type(exc).__name__)
                if self._stopping.is_set() or (deadline is not None and time.monotonic() + delay > deadline):
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
