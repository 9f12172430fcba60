"""Usage detail end to end: for each provider, answers with cached, cache-write and reasoning tokens reach the
answer's `usage`, the ledger and the report exactly as the fake served them, priced by the price table's formula,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.api.test_completion import sse_events
from tests.conftest import ADMIN_KEY, all_providers_config, auth, ledger_rows
from tests.fakes.server import UsageDetail

LONG_SYSTEM = " ".join(["context"] * 60)
DETAIL = UsageDetail(cached=40, cache_write=12, reasoning=3)
#: model id -> (fake, USD per million: input, cached input, cache write, output). The built-in table's prices,
#: written out here so a change to the table or the ratios shows up as a failure.
PRICED = {
    "openai.o4-mini": ("openai", 1.1, 0.275, 1.1, 4.4),  # cached price named by the table; no write discount
    "anthropic.claude-sonnet-4-5-20250929": ("anthropic", 3.0, 0.3, 3.75, 15.0),  # read 0.1x, write 1.25x
    "cohere.command-a-03-2025": ("cohere", 2.5, 2.5, 2.5, 10.0),  # no published cache price
    "house-llama": ("huggingface", 0.2, 0.05, 0.2, 0.4),  # config: a cached price, writes at the input price
}
MAPPINGS = [
    {
        "model_id": "house-llama",
        "provider": "huggingface",
        "provider_model_id": "meta-llama/Llama-3.1-8B-Instruct",
        "pricing": {"input_per_million": 0.2, "output_per_million": 0.4, "cached_input_per_million": 0.05},
    }
]
DETAIL_FIELDS = ("cached_tokens", "cache_write_tokens", "reasoning_tokens")


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request, make_app, fake_openai, other_fakes):
    fakes = {"openai": fake_openai, **other_fakes}
    for fake in fakes.values():
        fake.reset()
        fake.detail = DETAIL
    db = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    app = make_app(db, providers=all_providers_config(fake_openai, other_fakes), routing={"model_mappings": MAPPINGS})
    return app, app.test_client(), fakes


def expected_cost(model: str, served) -> float:
    _, inp, cached, write, out = PRICED[model]
    uncached = served.prompt_tokens - served.cached_tokens - served.cache_write_tokens
    return (
        uncached * inp
        + served.cached_tokens * cached
        + served.cache_write_tokens * write
        + served.completion_tokens * out
    ) / 1_000_000


def chat(model: str, **fields) -> dict:
    return {
        "model": model,
        "messages": [{"role": "system", "content": LONG_SYSTEM}, {"role": "user", "content": "what is in the context"}],
        **fields,
    }


def usage_of(client, path: str, body: dict) -> dict:
    response = client.post(path, json=body, headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.data
    if not body.get("stream") and not path.endswith("/stream"):
        return response.json["usage"]
    events = sse_events(response.data)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"] == []
    return chunks[-1]["usage"]


@pytest.mark.parametrize("model", list(PRICED))
def test_records_usage_and_report_equal_what_the_fake_served(gateway, model):
    app, client, fakes = gateway
    fake = fakes[PRICED[model][0]]
    calls = [
        ("/api/v1/completion", chat(model)),
        ("/api/v1/completion/stream", chat(model)),
        ("/v1/chat/completions", chat(model)),
        ("/v1/chat/completions", chat(model, stream=True, stream_options={"include_usage": True})),
    ]
    answered = [usage_of(client, path, body) for path, body in calls]
    served = fake.served[-len(calls) :]
    assert len(fake.served) == len(calls) and all(s.complete for s in served)
    rows = ledger_rows(app)
    assert len(rows) == len(calls)

    for usage, row, truth in zip(answered, rows, served, strict=True):
        cost = pytest.approx(expected_cost(model, truth), rel=1e-9, abs=1e-12)
        assert (usage["prompt_tokens"], usage["completion_tokens"]) == (truth.prompt_tokens, truth.completion_tokens)
        assert usage["prompt_tokens_details"]["cached_tokens"] == truth.cached_tokens
        assert usage["prompt_tokens_details"]["cache_write_tokens"] == truth.cache_write_tokens
        assert usage["completion_tokens_details"]["reasoning_tokens"] == truth.reasoning_tokens
        assert usage["cost_usd"] == cost and "estimated" not in usage
        assert (row["prompt_tokens"], row["completion_tokens"]) == (truth.prompt_tokens, truth.completion_tokens)
        assert tuple(row[name] for name in DETAIL_FIELDS) == (
            truth.cached_tokens,
            truth.cache_write_tokens,
            truth.reasoning_tokens,
        )
        assert row["cost_usd"] == cost and not row["tokens_estimated"]
    # every provider reported some detail the price depends on
    assert any(s.cached_tokens for s in served)

    today = datetime.now(UTC).date().isoformat()
    for group_by in ("provider", "model", "api_key", "user", "day"):
        report = client.get(
            "/api/v1/admin/usage",
            headers=auth(ADMIN_KEY),
            query_string={"startDate": today, "endDate": today, "groupBy": group_by},
        ).json
        totals = report["totals"]
        assert totals["prompt_tokens"] == sum(s.prompt_tokens for s in served)
        assert totals["completion_tokens"] == sum(s.completion_tokens for s in served)
        assert totals["cached_tokens"] == sum(s.cached_tokens for s in served)
        assert totals["cache_write_tokens"] == sum(s.cache_write_tokens for s in served)
        assert totals["reasoning_tokens"] == sum(s.reasoning_tokens for s in served)
        assert totals["cost_usd"] == pytest.approx(sum(expected_cost(model, s) for s in served), abs=1e-8)
        [group] = report["groups"]
        assert {name: group[name] for name in totals} == totals
    result = app.test_cli_runner().invoke(
        args=["usage", "report", "--start", today, "--end", today, "--group-by", "model", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["totals"] == totals


def test_stream_usage_chunk_is_stripped_unless_asked_but_recorded_with_its_detail(gateway):
    app, client, fakes = gateway
    response = client.post("/v1/chat/completions", json=chat("openai.o4-mini", stream=True), headers=auth(ADMIN_KEY))
    chunks = [json.loads(e) for e in sse_events(response.data)[:-1]]
    assert chunks and all(c["choices"] and "usage" not in c for c in chunks)
    assert fakes["openai"].requests[-1]["json"]["stream_options"] == {"include_usage": True}  # asked upstream anyway
    [row] = ledger_rows(app)
    truth = fakes["openai"].served[-1]
    assert (row["cached_tokens"], row["reasoning_tokens"]) == (truth.cached_tokens, truth.reasoning_tokens) == (40, 3)
    assert row["cost_usd"] == pytest.approx(expected_cost("openai.o4-mini", truth), abs=1e-12)


@pytest.mark.parametrize("path", ["/api/v1/completion/stream", "/v1/messages"])
def test_a_stream_cut_by_the_client_records_the_usage_known_so_far_with_its_cache_fields(gateway, path):
    """Anthropic sends the input-side counts in message_start: a stream abandoned after a few chunks still records
    the exact prompt, cache reads and cache writes; only the output is estimated (and the record flagged)."""
    app, client, fakes = gateway
    anthropic = fakes["anthropic"]
    anthropic.reply_text = " ".join(f"w{i}" for i in range(200))
    anthropic.chunk_delay = 0.01
    model = "anthropic.claude-sonnet-4-5-20250929"
    body = chat(model, stream=True, max_tokens=400)
    if path == "/v1/messages":  # the Anthropic surface: system at the top level
        body = {
            "model": model,
            "system": LONG_SYSTEM,
            "max_tokens": 400,
            "stream": True,
            "messages": [{"role": "user", "content": "what is in the context"}],
        }
    response = client.post(path, json=body, headers=auth(ADMIN_KEY), buffered=False)
    if response.status_code == 404:
        pytest.skip(f"{path} is not served yet")
    chunks = iter(response.response)
    for _ in range(6):
        next(chunks)
    response.close()

    [row] = ledger_rows(app)
    assert row["status_code"] == 499 and row["tokens_estimated"] is True
    uncached = 60 + 5  # the fake counts words: the context and the question, sent as message_start's input_tokens
    assert row["prompt_tokens"] == uncached + DETAIL.cached + DETAIL.cache_write
    assert (row["cached_tokens"], row["cache_write_tokens"]) == (DETAIL.cached, DETAIL.cache_write)
    assert 0 < row["completion_tokens"] < 200
    _, inp, cached, write, out = PRICED[model]
    expected = uncached * inp + DETAIL.cached * cached + DETAIL.cache_write * write + row["completion_tokens"] * out
    assert row["cost_usd"] == pytest.approx(expected / 1e6, abs=1e-12)
