"""The spool: rows durable on disk before record() returns, group commit, orphan recovery, idempotent re-drain."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from llmgateway.infra.ledger import SqlUsageWriter, UsageLedger
from llmgateway.infra.models import Base
from llmgateway.infra.spool import UsageSpool, encode_row
from tests.conftest import CHAT, COMPLETION_KEY, auth
from tests.ledger.helpers import count_rows, request_ids, usage_row


@pytest.fixture
def engine(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'spool-test.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def make_ledger(engine, directory: Path, **kwargs) -> UsageLedger:
    return UsageLedger(SqlUsageWriter(engine), UsageSpool(directory, max_bytes=1 << 30), **kwargs)


def sessions_of(engine):
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=engine)


def test_a_recorded_row_is_on_disk_before_record_returns(engine, tmp_path):
    ledger = make_ledger(engine, tmp_path / "spool", flush_interval=60)
    row = usage_row()
    try:
        ledger.record(row)
        on_disk = b"".join(p.read_bytes() for p in (tmp_path / "spool").glob("seg-*.jsonl"))
        assert row["request_id"].encode() in on_disk
        assert ledger.backlog == 1
        assert ledger.flush(5)
        assert request_ids(sessions_of(engine)) == [row["request_id"]]
        assert not list((tmp_path / "spool").glob("seg-*.jsonl")), "a drained segment is deleted"
    finally:
        ledger.close(2)


def test_concurrent_records_share_fsyncs(engine, tmp_path):
    ledger = make_ledger(engine, tmp_path / "spool", flush_interval=60)
    rows = [usage_row() for _ in range(200)]
    threads = [threading.Thread(target=lambda part=rows[i::20]: [ledger.record(r) for r in part]) for i in range(20)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert ledger.backlog == 200
        assert ledger.spool.commits < 200, "no group commit: one fsync per row"
        assert ledger.flush(10)
        assert count_rows(sessions_of(engine)) == 200
    finally:
        ledger.close(2)


CHILD = """
import sys, time
from pathlib import Path
from llmgateway.infra.spool import UsageSpool, encode_row
from tests.ledger.helpers import usage_row
spool = UsageSpool(Path(sys.argv[1]), max_bytes=1 << 30)
for i in range(int(sys.argv[2])):
    spool.append(encode_row(usage_row(request_id=f"child-{i:04d}")))
print("spooled", flush=True)
time.sleep(60)
"""


def test_segments_of_a_killed_process_are_recovered_once_its_lock_is_gone(engine, tmp_path):
    directory = tmp_path / "spool"
    directory.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory), "25"],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    ledger = make_ledger(engine, directory)
    try:
        assert child.stdout.readline().strip() == b"spooled"
        assert ledger.spool.claim_orphans() == 0, "a live process's segment is locked"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert ledger.flush(10)
        assert sorted(request_ids(sessions_of(engine))) == [f"child-{i:04d}" for i in range(25)]
        assert not list(directory.glob("seg-*.jsonl"))
    finally:
        child.kill()
        child.wait(5)
        child.stdout.close()
        ledger.close(2)


def test_a_segment_drained_twice_writes_each_row_once_and_a_torn_line_is_skipped(engine, tmp_path):
    directory = tmp_path / "spool"
    first = make_ledger(engine, directory, flush_interval=60)
    rows = [usage_row() for _ in range(10)]
    for row in rows:
        first.record(row)
    [segment] = directory.glob("seg-*.jsonl")
    copy = tmp_path / "copy.jsonl"
    shutil.copy(segment, copy)
    assert first.flush(5)
    first.close(2)
    # as if a worker died after the commit but before deleting, and mid-write of one more line
    with open(copy, "ab") as handle:
        handle.write(b'{"request_id": "torn-row", "prompt')
    shutil.copy(copy, directory / "seg-99999-deadbeef-000001.jsonl")
    second = make_ledger(engine, directory)
    try:
        assert second.flush(5)
        assert sorted(request_ids(sessions_of(engine))) == sorted(r["request_id"] for r in rows)
    finally:
        second.close(2)


def test_a_full_spool_refuses_usage_requests_before_the_upstream_call(make_app, fake_openai):
    app = make_app(ledger={"flush_interval": 60})
    client = app.test_client()
    ledger = app.extensions["llmgateway"].ledger
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)).status_code == 200
    ledger.spool.max_bytes = 1  # the one spooled row is over the cap now
    calls = len(fake_openai.requests)

    refused = client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))
    ready = client.get("/health/ready")

    assert refused.status_code == 503 and refused.json["error"]["code"] == "service_unavailable"
    assert refused.headers["Retry-After"]
    assert len(fake_openai.requests) == calls, "no upstream work while the ledger cannot take records"
    assert ready.status_code == 503 and ready.json["checks"]["ledger"] == "full"
    assert ledger.flush(5) and not ledger.full
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)).status_code == 200
    assert ledger.flush(5)
    assert count_rows(app.extensions["llmgateway"].sessions) == 3, "the refusal is a usage record too"


def test_backlog_is_visible_in_readiness_while_rows_wait(make_app):
    app = make_app(ledger={"flush_interval": 60})
    client = app.test_client()
    client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))
    ready = client.get("/health/ready").json
    assert ready["ledger_backlog"] == 1 and ready["checks"]["ledger"] == "spooling"
    assert app.extensions["llmgateway"].ledger.flush(5)
    deadline = time.monotonic() + 5
    while client.get("/health/ready").json["ledger_backlog"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/health/ready").json["checks"]["ledger"] == "ok"


def test_a_group_commit_cut_short_loses_no_row(engine, tmp_path):
    """A greenlet killed while its group commit waits on the fsync: its rows (and those of the greenlets that
    queued behind it) stay buffered, and the next commit or close() writes them; the next process drains them."""

    class Interrupted(BaseException):
        pass

    ledger = make_ledger(engine, tmp_path / "spool", flush_interval=60)
    spool = ledger.spool
    plain_write = spool._write
    calls = []

    def cut_short_once(lines):
        calls.append(len(lines))
        if len(calls) == 1:
            raise Interrupted()
        plain_write(lines)

    spool._write = cut_short_once
    first, second, third = usage_row(), usage_row(), usage_row()
    with pytest.raises(Interrupted):
        ledger.record(first)
    ledger.record(second)  # the next group commit writes the first row too
    with pytest.raises(Interrupted):  # cut short again, and then the process stops
        calls.clear()
        spool.append(encode_row(third))
    ledger.close(2)  # the spool's close() writes what is still buffered

    recovered = make_ledger(engine, tmp_path / "spool", flush_interval=60)
    try:
        assert recovered.flush(5)
    finally:
        recovered.close(2)
    assert sorted(request_ids(sessions_of(engine))) == sorted(r["request_id"] for r in (first, second, third))
