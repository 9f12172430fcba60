"""R11: one record the database refuses never stops the ledger: absurd counts are clamped and flagged at the
provider boundary, and a row the database still refuses is set aside as a dead letter while the rest land."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select, text

from llmgateway.infra.models import UsageRecord
from llmgateway.providers.openai import OpenAIProvider
from llmgateway.providers.types import MAX_TOKEN_COUNT, Usage
from tests.conftest import CHAT, COMPLETION_KEY, auth
from tests.ledger.helpers import usage_row
from tests.ops.metrics_text import value


def chat(i: int) -> dict:
    return {**CHAT, "messages": [{"role": "user", "content": f"hello there number {i}"}]}


def completion_body(usage: dict) -> dict:
    return {
        "id": "chatcmpl-poison",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "absurd"}, "finish_reason": "stop"}],
        "usage": usage,
    }


def records(app) -> int:
    with app.extensions["llmgateway"].sessions() as session:
        return int(session.scalar(select(func.count()).select_from(UsageRecord)))


def wait_for_records(app, wanted: int, seconds: float) -> int:
    """Poll the database (no flush: the background drainer must get there by itself)."""
    deadline = time.monotonic() + seconds
    found = records(app)
    while found < wanted and time.monotonic() < deadline:
        time.sleep(0.25)
        found = records(app)
    return found


def metric(client, name: str) -> float:
    with client.get("/metrics") as response:
        return value(response.get_data(as_text=True), name)


def test_absurd_upstream_counts_do_not_stop_billing_on_postgresql(make_app, pg_url, fake_openai):
    """The R11 scenario: a fake answers once with 10**10 prompt tokens; the next 40 requests' records reach
    PostgreSQL within 30 s, and readiness stays 200."""
    app = make_app(pg_url)
    client = app.test_client()
    fake_openai.push(
        "status",
        status=200,
        body=completion_body({"prompt_tokens": 10**10, "completion_tokens": 3, "total_tokens": 10**10 + 3}),
    )
    with client.post("/api/v1/completion", json=chat(0), headers=auth(COMPLETION_KEY)) as poisoned:
        assert poisoned.status_code == 200, poisoned.data
    for i in range(1, 41):
        with client.post("/api/v1/completion", json=chat(i), headers=auth(COMPLETION_KEY)) as response:
            assert response.status_code == 200, response.data
        assert client.get("/health/ready").status_code == 200

    assert wait_for_records(app, 41, 30) == 41, "records stopped reaching PostgreSQL after the absurd answer"
    assert client.get("/health/ready").status_code == 200
    with app.extensions["llmgateway"].sessions() as session:
        row = session.get(UsageRecord, poisoned.headers["X-LLMGateway-Request-ID"])
    assert (row.prompt_tokens, row.tokens_clamped) == (MAX_TOKEN_COUNT, True)
    assert metric(client, "llmgateway_usage_clamped_total") == 1


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"prompt_tokens": -5, "completion_tokens": 2}, (0, 2)),
        ({"prompt_tokens": 2.5, "completion_tokens": 2}, (2, 2)),
        ({"prompt_tokens": "many", "completion_tokens": 2}, (0, 2)),
        ({"prompt_tokens": 2**31, "completion_tokens": 2}, (MAX_TOKEN_COUNT, 0)),
        ({"prompt_tokens": 2**30, "completion_tokens": 2**30}, (2**30, MAX_TOKEN_COUNT - 2**30)),
    ],
)
def test_out_of_bound_counts_are_clamped_and_flagged(raw, expected, caplog):
    usage = OpenAIProvider.usage(raw)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.clamped) == (*expected, True)
    assert usage.total_tokens <= MAX_TOKEN_COUNT
    assert "out of bounds" in caplog.text


@pytest.mark.parametrize(
    "counts, expected",
    [
        ({"prompt_tokens": 10, "cached_tokens": 15}, {"cached_tokens": 10}),
        ({"prompt_tokens": 10, "cache_write_tokens": -3}, {"cache_write_tokens": 0}),
        ({"prompt_tokens": 10, "cached_tokens": 6, "cache_write_tokens": 6}, {"cache_write_tokens": 4}),
        ({"completion_tokens": 4, "reasoning_tokens": 2**40}, {"reasoning_tokens": 4}),
    ],
)
def test_detail_counts_are_bounded_by_their_whole(counts, expected):
    usage = Usage(**counts)
    assert usage.clamped and {name: getattr(usage, name) for name in expected} == expected


def test_sane_counts_are_left_alone():
    usage = OpenAIProvider.usage({"prompt_tokens": 12, "completion_tokens": 7.0})
    assert (usage.prompt_tokens, usage.completion_tokens, usage.clamped) == (12, 7, False)
    assert type(usage.completion_tokens) is int
    assert Usage(MAX_TOKEN_COUNT, 0).clamped is False


def poison_then_good(app, poison: list[dict]) -> list[str]:
    ledger = app.extensions["llmgateway"].ledger
    good = [usage_row() for _ in range(40)]
    for row in [good[0], *poison, *good[1:]]:
        ledger.record(row)
    return [row["request_id"] for row in good]


def dead_letters_cli(app) -> dict:
    result = app.test_cli_runner().invoke(args=["usage", "dead-letters", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_row_postgresql_refuses_is_set_aside_and_the_drain_goes_on(make_app, pg_url):
    app = make_app(pg_url)
    client = app.test_client()
    refused = usage_row(prompt_tokens=10**10)  # past the boundary's clamp: e.g. spooled by an older version
    good = poison_then_good(app, [refused])

    assert wait_for_records(app, 40, 30) == 40
    assert client.get("/health/ready").json["checks"]["ledger"] == "ok"
    [entry] = dead_letters_cli(app)["data"]
    assert entry["request_id"] == refused["request_id"] and entry["stored_in"] == "table"
    assert entry["error"].startswith("DataError") and json.loads(entry["row"])["prompt_tokens"] == 10**10
    assert metric(client, "llmgateway_ledger_dead_letters_total") == 1
    with app.extensions["llmgateway"].sessions() as session:
        assert set(session.scalars(select(UsageRecord.request_id))) == set(good)


def test_rows_sqlite_refuses_are_set_aside_and_the_drain_goes_on(make_app, caplog):
    app = make_app()
    client = app.test_client()
    missing = usage_row(endpoint=None)  # NOT NULL: IntegrityError
    too_big = usage_row(completion_tokens=2**63 + 5)  # past SQLite's signed 64 bits: the driver cannot bind it
    good = poison_then_good(app, [missing, too_big])

    assert wait_for_records(app, 40, 30) == 40
    assert client.get("/health/ready").status_code == 200
    entries = dead_letters_cli(app)["data"]
    assert {e["request_id"] for e in entries} == {missing["request_id"], too_big["request_id"]}
    assert metric(client, "llmgateway_ledger_dead_letters_total") == 2
    assert missing["request_id"] in caplog.text and "set aside" in caplog.text
    with app.extensions["llmgateway"].sessions() as session:
        assert set(session.scalars(select(UsageRecord.request_id))) == set(good)
    table = app.test_cli_runner().invoke(args=["usage", "dead-letters"])
    assert "2 dead letter(s)" in table.output and "IntegrityError" in table.output


def test_a_dead_letter_goes_to_a_file_when_the_table_cannot_take_it(make_app):
    app = make_app()
    svc = app.extensions["llmgateway"]
    with svc.engine.begin() as connection:
        connection.execute(text("DROP TABLE usage_dead_letters"))
    refused = usage_row(status_code=None)
    good = poison_then_good(app, [refused])

    assert svc.ledger.flush(10)
    assert records(app) == len(good)
    [entry] = dead_letters_cli(app)["data"]
    assert (entry["request_id"], entry["stored_in"]) == (refused["request_id"], "file")
    assert svc.ledger.dead_letters.path.exists()


def test_a_set_aside_row_is_kept_once_when_the_drain_repeats(make_app):
    app = make_app()
    svc = app.extensions["llmgateway"]
    refused = usage_row(endpoint=None)
    for _ in range(2):  # the same row twice: a retried batch after an outage mid-way
        svc.ledger.record(refused)
        assert svc.ledger.flush(10)
    assert len(dead_letters_cli(app)["data"]) == 1
