"""R2: a stream that fails after it began ends with one SSE error event, no [DONE], and a partial record.
(The upstream cut is covered in tests/api/test_completion.py.)"""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import CHAT, COMPLETION_KEY, auth, ledger_rows
from tests.resilience.conftest import FAST_RETRIES, openai_section
from tests.sse import sse_events


def stream(client):
    return client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY))


@pytest.mark.parametrize("fault", ["error_event", "bad_json"])
def test_mid_stream_fault_ends_with_one_error_event_and_partial_usage(make_app, fake_openai, fault):
    app = make_app(retries=FAST_RETRIES)
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))
    fake_openai.push(fault, after=5)

    response = stream(app.test_client())

    events = sse_events(response.data)
    assert "[DONE]" not in events
    errors = [e for e in events if "error" in json.loads(e)]
    assert len(errors) == 1 and errors == events[-1:]
    assert json.loads(errors[0])["error"]["code"] == "server_error"
    texts = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert [t for t in texts if t] == ["w0", " w1", " w2", " w3", " w4"]
    assert len(fake_openai.requests) == 1  # never retried once the first byte was sent
    [row] = ledger_rows(app)
    assert row["status_code"] == 502 and row["error_code"] == "server_error"
    assert 0 < row["completion_tokens"] < 10 and row["tokens_estimated"] is True  # estimated from 5 words


def test_a_silent_gap_longer_than_the_idle_timeout_ends_the_stream_with_timeout(make_app, fake_openai):
    app = make_app(providers=openai_section(fake_openai, timeout=10, stream_idle_timeout=0.5), retries=FAST_RETRIES)
    fake_openai.reply_text = "one two three"
    fake_openai.chunk_delay = 2.0  # each content chunk comes 2 s after the previous event

    started = time.monotonic()
    response = stream(app.test_client())
    elapsed = time.monotonic() - started

    events = sse_events(response.data)
    assert json.loads(events[-1])["error"]["code"] == "timeout"
    assert "[DONE]" not in events
    assert elapsed < 1.8  # the idle timeout (0.5 s), not the provider timeout (10 s) nor the gap (2 s)
    [row] = ledger_rows(app)
    assert row["status_code"] == 504 and row["error_code"] == "timeout"


def test_slow_but_steady_stream_is_not_cut_by_the_idle_timeout(make_app, fake_openai):
    app = make_app(providers=openai_section(fake_openai, timeout=10, stream_idle_timeout=1.0))
    fake_openai.reply_text = "a b c d e"
    fake_openai.chunk_delay = 0.3  # 1.5 s in all: longer than the idle timeout, each gap shorter

    events = sse_events(stream(app.test_client()).data)

    assert events[-1] == "[DONE]"
