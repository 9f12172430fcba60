"""The ledger's write-ahead spool: per-process JSONL segments, fsync'd in groups and flock'd while owned."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import make_url

from llmgateway.infra.db import off_hub
from llmgateway.infra.models import USAGE_DETAIL_COLUMNS

log = logging.getLogger(__name__)

SEGMENT_GLOB = "seg-*.jsonl"
SEGMENT_BYTES = 4 * 1024 * 1024
#: Rows kept in memory when the disk itself refuses writes (ENOSPC, EIO); beyond this they are logged.
MAX_OVERFLOW_ROWS = 10_000


def default_spool_dir(database_url: str, configured: str | None) -> Path:
    """`<configured or default>/<database fingerprint>`: a spool is only ever drained into its own database."""
    url = make_url(database_url)
    if configured:
        base = Path(configured).expanduser()
    elif url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        base = Path(url.database).expanduser().with_suffix(".spool")
    else:
        base = Path("spool")
    fingerprint = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return base.resolve() / fingerprint


def encode_row(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, default=str) + b"\n"


def decode_row(line: bytes) -> dict[str, Any]:
    row = orjson.loads(line)
    if not isinstance(row, dict) or not row.get("request_id"):
        raise ValueError("not a usage row")
    created = row.get("created_at")
    if isinstance(created, str):
        row["created_at"] = datetime.fromisoformat(created)
    for name in USAGE_DETAIL_COLUMNS:  # spooled by a version before these columns: one batch needs one row shape
        row.setdefault(name, 0)
    row.setdefault("tokens_clamped", False)
    return row


@dataclass(eq=False)
class Segment:
    """One segment file held open with an exclusive flock while this process owns it."""

    path: Path
    fd: int
    rows: int = 0
    size: int = 0
    drained_rows: int = 0
    offset: int = 0  # bytes already committed to the database
    orphan: bool = False

    @property
    def pending(self) -> int:
        return max(0, self.rows - self.drained_rows)

    def read(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(end offset, row) for each complete line after `offset`; torn or corrupt lines are skipped."""
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            position = self.offset
            for line in handle:
                position += len(line)
                if not line.endswith(b"\n"):
                    log.warning("ledger spool: skipping a torn last line in %s", self.path.name)
                    break
                try:
                    row = decode_row(line)
                except ValueError:
                    log.error("ledger spool: skipping a corrupt line in %s: %r", self.path.name, line[:200])
                    continue
                yield position, row

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class UsageSpool:
    """Append rows durably (group commit: one fsync serves every row queued meanwhile), hand segments to a drainer.

    Own segments: one active (being appended to) and any number sealed; orphans are segments of dead processes,
    claimed by taking their flock. Every held segment keeps its lock until it is drained and deleted.
    """

    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._prefix: str | None = None
        self._serial = 0
        self._active: Segment | None = None
        self._held: deque[Segment] = deque()  # sealed own segments and claimed orphans, oldest first
        self._buffer: list[bytes] = []
        self._appended = 0
        self._durable = 0
        self._lock = threading.Lock()  # buffer, counters, segment lists
        self._sync_lock = threading.Lock()  # one group commit (or seal) at a time
        self.overflow: deque[bytes] = deque()
        self.commits = 0  # fsync'd groups: fewer than rows under concurrency

    # -- state -------------------------------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Rows handed in and not yet committed to the database."""
        with self._lock:
            held = sum(s.pending for s in self._held)
            active = self._active.pending if self._active else 0
            return held + active + len(self._buffer) + len(self.overflow)

    @property
    def size(self) -> int:
        with self._lock:
            return sum(s.size - s.offset for s in self._held) + (self._active.size if self._active else 0)

    @property
    def full(self) -> bool:
        return self.size >= self.max_bytes

    def held(self) -> list[Segment]:
        with self._lock:
            return list(self._held)

    # -- appending ---------------------------------------------------------------------------
    def append(self, line: bytes) -> None:
        """Return once `line` is on disk (fsync'd), sharing the fsync with every line queued meanwhile."""
        with self._lock:
            self._buffer.append(line)
            self._appended += 1
            wanted = self._appended
        with self._sync_lock:
            if self._durable >= wanted:
                return
            with self._lock:
                lines, self._buffer = self._buffer, []
                reached = self._appended
            try:
                self._write(lines)
            except OSError as exc:
                self._keep_in_memory(lines, exc)
            except BaseException:
                # Cut short (a greenlet killed or timed out mid-commit): the group goes back to the buffer, for
                # the next group commit or close() to write. A line written twice is still inserted once.
                with self._lock:
                    self._buffer[:0] = lines
                raise
            self._durable = reached

    def _write(self, lines: list[bytes]) -> None:
        """Called with the sync lock held; the file I/O runs off the gevent hub, the bookkeeping on it."""
        segment = self._active
        if segment is not None and segment.size >= self._segment_bytes:
            self._seal()
            segment = None
        if segment is None:
            segment = off_hub(self._open_segment)
            with self._lock:
                self._active = segment
        data = b"".join(lines)
        off_hub(lambda: _write_durably(segment.fd, data))
        self.commits += 1
        with self._lock:
            segment.size += len(data)
            segment.rows += len(lines)

    def _open_segment(self) -> Segment:
        if self._prefix is None or not self._prefix.startswith(f"seg-{os.getpid()}-"):
            self._prefix = f"seg-{os.getpid()}-{secrets.token_hex(4)}-"
            self._serial = 0
        self._serial += 1
        path = self.directory / f"{self._prefix}{self._serial:06d}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _fsync_dir(self.directory)
        return Segment(path, fd)

    def _keep_in_memory(self, lines: list[bytes], exc: OSError) -> None:
        """The disk refused the rows: keep them in memory for the drainer; past the cap, log them whole."""
        log.error(
            "ledger spool write failed (%s); keeping %d rows in memory",
            errno.errorcode.get(exc.errno or 0, exc),
            len(lines),
        )
        with self._lock:
            for line in lines:
                if len(self.overflow) < MAX_OVERFLOW_ROWS:
                    self.overflow.append(line)
                else:
                    log.error(
                        "ledger: usage row could not be stored; recover it from this line: %s",
                        line.decode(errors="replace").rstrip(),
                    )

    # -- handing over to the drainer ----------------------------------------------------------
    def seal(self) -> bool:
        """Close the active segment for appends (the next append opens a new one); True when one was sealed."""
        with self._sync_lock:
            return self._seal()

    def _seal(self) -> bool:
        with self._lock:
            segment = self._active
            if segment is None or segment.rows == 0:
                return False
            self._active = None
            self._held.append(segment)
            return True

    @property
    def active_rows(self) -> int:
        with self._lock:
            return self._active.rows if self._active else 0

    def release(self, segment: Segment) -> None:
        """The segment's rows are all committed: delete it, then drop its lock."""
        try:
            segment.path.unlink()
        except FileNotFoundError:
            pass
        segment.close()
        with self._lock:
            if segment in self._held:
                self._held.remove(segment)

    def claim_orphans(self) -> int:
        """Take over segments whose owner died (their flock is free); returns how many were claimed."""
        mine = {s.path for s in self.held()} | ({self._active.path} if self._active else set())
        claimed = 0
        for path in sorted(self.directory.glob(SEGMENT_GLOB)):
            if path in mine or (self._prefix and path.name.startswith(self._prefix)):
                continue
            segment = _try_claim(path)
            if segment is None:
                continue
            with self._lock:
                self._held.append(segment)
            claimed += 1
            log.warning("ledger spool: recovering %d rows left by a stopped worker (%s)", segment.rows, path.name)
        return claimed

    def close(self) -> None:
        """Write what is still buffered, then drop every lock (rows not yet drained stay on disk for the next
        process to recover). A buffered row is one whose append was cut short before its group commit."""
        with self._sync_lock:
            with self._lock:
                lines, self._buffer = self._buffer, []
                reached = self._appended
            if lines:
                try:
                    self._write(lines)
                except OSError as exc:
                    self._keep_in_memory(lines, exc)
                self._durable = reached
            with self._lock:
                segments = [*self._held, *([self._active] if self._active else [])]
                self._held.clear()
                self._active = None
        for segment in segments:
            if segment.rows == 0 and not segment.orphan:
                segment.path.unlink(missing_ok=True)
            segment.close()


def _try_claim(path: Path) -> Segment | None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    stat = os.fstat(fd)
    if stat.st_nlink == 0:  # drained and deleted by its owner between our listing and our lock
        os.close(fd)
        return None
    with open(path, "rb") as handle:
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return Segment(path, fd, rows=rows, size=stat.st_size, orphan=True)


def _write_durably(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
