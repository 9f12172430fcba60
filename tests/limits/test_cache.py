"""Response cache: HIT/MISS/BYPASS semantics, Cache-Control, stream replay and fill, JSON in Redis, scope, size."""

from __future__ import annotations

import json
import zlib

import pytest
import redis

from tests.conftest import ADMIN_KEY, CHAT, COMPLETION_KEY, EMBEDDING_KEY, auth, ledger_rows
from tests.sse import sse_events

DETERMINISTIC = {**CHAT, "temperature": 0}
OTHER_COMPLETION_KEY = "test-completion-key-other-team-0123"


def streamed_text(body: bytes) -> str:
    chunks = [json.loads(e) for e in sse_events(body) if e != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


@pytest.fixture(params=["redis", "memory"])
def cached_app(request, make_app, redis_url):
    """The same behaviour with the Redis store (fleet) and the in-process store (embedded default)."""
    sections = {"redis": {"url": redis_url}} if request.param == "redis" else {}
    return make_app(**sections)


def post(client, body, key=COMPLETION_KEY, path="/api/v1/completion", **headers):
    return client.post(path, json=body, headers={**auth(key), **headers})


def test_temperature_zero_is_a_miss_then_a_hit_with_the_original_answer(cached_app, fake_openai):
    client = cached_app.test_client()
    first = post(client, DETERMINISTIC)
    fake_openai.reply_text = "a different answer now"
    second = post(client, DETERMINISTIC)

    assert first.headers["X-LLMGateway-Cache"] == "MISS" and first.json["cached"] is False
    assert second.headers["X-LLMGateway-Cache"] == "HIT" and second.json["cached"] is True
    assert second.json["choices"] == first.json["choices"]
    assert first.json["usage"]["cost_usd"] > 0 and second.json["usage"]["cost_usd"] == 0  # a hit costs nothing
    assert {**second.json["usage"], "cost_usd": None} == {**first.json["usage"], "cost_usd": None}
    assert second.json["id"] != first.json["id"]
    assert len(fake_openai.served) == 1


def test_a_hit_costs_nothing_and_records_what_it_saved(cached_app, fake_openai):
    client = cached_app.test_client()
    post(client, DETERMINISTIC)
    post(client, DETERMINISTIC)

    miss, hit = ledger_rows(cached_app)
    assert (miss["cached"], hit["cached"]) == (False, True)
    assert miss["cost_usd"] > 0 and miss["saved_cost_usd"] == 0
    assert hit["cost_usd"] == 0 and hit["saved_cost_usd"] == pytest.approx(miss["cost_usd"])
    assert hit["prompt_tokens"] == miss["prompt_tokens"] and hit["status_code"] == 200


def test_non_deterministic_requests_bypass_the_cache(cached_app, fake_openai):
    client = cached_app.test_client()
    for body in (CHAT, {**CHAT, "temperature": 0.7}, {**CHAT, "temperature": 0.7, "cache": False}):
        assert post(client, body).headers["X-LLMGateway-Cache"] == "BYPASS"
    assert len(fake_openai.served) == 3


def test_cache_true_opts_in_at_any_temperature(cached_app, fake_openai):
    client = cached_app.test_client()
    body = {**CHAT, "temperature": 0.9, "cache": True}
    assert post(client, body).headers["X-LLMGateway-Cache"] == "MISS"
    assert post(client, body).headers["X-LLMGateway-Cache"] == "HIT"
    assert len(fake_openai.served) == 1


def test_cache_false_and_no_cache_skip_the_read_but_refresh_the_entry(cached_app, fake_openai):
    client = cached_app.test_client()
    post(client, DETERMINISTIC)
    fake_openai.reply_text = "fresher answer"
    skipped = post(client, {**DETERMINISTIC, "cache": False})
    fake_openai.reply_text = "freshest answer"
    no_cache = post(client, DETERMINISTIC, **{"Cache-Control": "no-cache"})
    hit = post(client, DETERMINISTIC)

    assert skipped.headers["X-LLMGateway-Cache"] == "MISS" and skipped.json["cached"] is False
    assert no_cache.headers["X-LLMGateway-Cache"] == "MISS"
    assert hit.headers["X-LLMGateway-Cache"] == "HIT"
    assert hit.json["choices"][0]["message"]["content"] == "freshest answer"
    assert len(fake_openai.served) == 3


def test_no_store_reads_but_never_writes(cached_app, fake_openai):
    client = cached_app.test_client()
    first = post(client, DETERMINISTIC, **{"Cache-Control": "no-store"})
    second = post(client, DETERMINISTIC)
    third = post(client, DETERMINISTIC, **{"Cache-Control": "no-store"})
    both = post(client, DETERMINISTIC, **{"Cache-Control": "no-cache, no-store"})

    assert first.headers["X-LLMGateway-Cache"] == "MISS"
    assert second.headers["X-LLMGateway-Cache"] == "MISS"  # the no-store answer was not kept
    assert third.headers["X-LLMGateway-Cache"] == "HIT"
    assert both.headers["X-LLMGateway-Cache"] == "BYPASS"
    assert len(fake_openai.served) == 3


def test_key_covers_model_messages_and_sampling_parameters(cached_app, fake_openai):
    client = cached_app.test_client()
    variants = [
        DETERMINISTIC,
        {**DETERMINISTIC, "max_tokens": 5},
        {**DETERMINISTIC, "top_p": 0.5},
        {**DETERMINISTIC, "stop": ["x"]},
        {**DETERMINISTIC, "model": "openai.gpt-4o"},
        {**DETERMINISTIC, "messages": [{"role": "user", "content": "hello there!"}]},
    ]
    statuses = [post(client, body).headers["X-LLMGateway-Cache"] for body in variants]
    assert statuses == ["MISS"] * len(variants)
    # `user` and `metadata` do not change the answer, so they share the entry.
    again = post(client, {**DETERMINISTIC, "user": "bob", "metadata": {"k": "v"}})
    assert again.headers["X-LLMGateway-Cache"] == "HIT"


def test_streamed_hit_is_replayed_as_sse(cached_app, fake_openai):
    client = cached_app.test_client()
    plain = post(client, DETERMINISTIC)
    replay = post(client, DETERMINISTIC, path="/api/v1/completion/stream")

    assert replay.status_code == 200 and replay.mimetype == "text/event-stream"
    assert replay.headers["X-LLMGateway-Cache"] == "HIT"
    events = sse_events(replay.data)
    assert events[-1] == "[DONE]"
    assert streamed_text(replay.data) == plain.json["choices"][0]["message"]["content"]
    usage_chunk = json.loads(events[-2])
    assert usage_chunk["choices"] == [] and usage_chunk["usage"] == {**plain.json["usage"], "cost_usd": 0.0}
    assert len(fake_openai.served) == 1
    rows = ledger_rows(cached_app)
    assert rows[-1]["cached"] is True and rows[-1]["streamed"] is True and rows[-1]["cost_usd"] == 0


def test_a_completed_stream_fills_the_cache(cached_app, fake_openai):
    client = cached_app.test_client()
    fake_openai.reply_text = "streamed words one two three"
    streamed = post(client, DETERMINISTIC, path="/api/v1/completion/stream")
    assert streamed.headers["X-LLMGateway-Cache"] == "MISS"
    assert streamed_text(streamed.data) == "streamed words one two three"

    plain = post(client, DETERMINISTIC)
    assert plain.headers["X-LLMGateway-Cache"] == "HIT"
    assert plain.json["choices"][0]["message"]["content"] == "streamed words one two three"
    assert plain.json["choices"][0]["finish_reason"] == "stop"
    assert plain.json["usage"]["completion_tokens"] == fake_openai.served[-1].completion_tokens


def test_a_cut_stream_is_not_cached(cached_app, fake_openai):
    client = cached_app.test_client()
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))
    fake_openai.push("cut_after", after=3)
    cut = post(client, DETERMINISTIC, path="/api/v1/completion/stream")
    assert "[DONE]" not in sse_events(cut.data)

    assert post(client, DETERMINISTIC).headers["X-LLMGateway-Cache"] == "MISS"


def test_a_stream_the_client_abandons_is_not_cached(cached_app, fake_openai):
    client = cached_app.test_client()
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(20))
    response = client.post(
        "/api/v1/completion/stream", json=DETERMINISTIC, headers=auth(COMPLETION_KEY), buffered=False
    )
    iterator = iter(response.response)
    next(iterator)
    response.close()

    assert post(client, DETERMINISTIC).headers["X-LLMGateway-Cache"] == "MISS"


def test_embeddings_are_always_cacheable(cached_app, fake_openai):
    client = cached_app.test_client()
    body = {"model": "openai.text-embedding-3-small", "input": ["a", "b"]}
    first = post(client, body, key=EMBEDDING_KEY, path="/api/v1/embedding")
    second = post(client, body, key=EMBEDDING_KEY, path="/api/v1/embedding")
    other = post(client, {**body, "dimensions": 8}, key=EMBEDDING_KEY, path="/api/v1/embedding")

    assert first.headers["X-LLMGateway-Cache"] == "MISS" and second.headers["X-LLMGateway-Cache"] == "HIT"
    assert second.json["cached"] is True and second.json["data"] == first.json["data"]
    assert {**second.json["usage"], "cost_usd": 0.0} == first.json["usage"] | {"cost_usd": 0.0}
    assert second.json["usage"]["cost_usd"] == 0.0
    assert other.headers["X-LLMGateway-Cache"] == "MISS"
    assert len(fake_openai.served) == 2
    hit = ledger_rows(cached_app)[1]
    assert hit["cached"] is True and hit["cost_usd"] == 0 and hit["saved_cost_usd"] > 0


def test_cache_is_scoped_per_key_owner_by_default(make_app, redis_url, fake_openai):
    keys = {
        "api_keys": [
            {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
            {"key": COMPLETION_KEY, "owner": "Team A", "permissions": ["completion"]},
            {"key": OTHER_COMPLETION_KEY, "owner": "Team C", "permissions": ["completion"]},
        ]
    }
    client = make_app(redis={"url": redis_url}, **keys).test_client()
    post(client, DETERMINISTIC, key=COMPLETION_KEY)
    assert post(client, DETERMINISTIC, key=OTHER_COMPLETION_KEY).headers["X-LLMGateway-Cache"] == "MISS"
    assert post(client, DETERMINISTIC, key=COMPLETION_KEY).headers["X-LLMGateway-Cache"] == "HIT"


def test_global_scope_shares_answers_between_owners(make_app, redis_url, fake_openai):
    keys = {
        "api_keys": [
            {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
            {"key": COMPLETION_KEY, "owner": "Team A", "permissions": ["completion"]},
            {"key": OTHER_COMPLETION_KEY, "owner": "Team C", "permissions": ["completion"]},
        ]
    }
    client = make_app(redis={"url": redis_url}, cache={"scope": "global"}, **keys).test_client()
    post(client, DETERMINISTIC, key=COMPLETION_KEY)
    assert post(client, DETERMINISTIC, key=OTHER_COMPLETION_KEY).headers["X-LLMGateway-Cache"] == "HIT"


def test_entries_in_redis_are_compressed_json_never_pickle(make_app, redis_url, fake_openai):
    client = make_app(redis={"url": redis_url}).test_client()
    post(client, DETERMINISTIC)

    raw = redis.Redis.from_url(redis_url)
    [key] = raw.keys("LLMGateway:cache:*")
    blob = raw.get(key)
    assert not blob.startswith(b"!") and blob[:1] != b"\x80"  # flask-caching's pickle marker / pickle protocol
    entry = json.loads(zlib.decompress(blob))
    assert entry["content"] == fake_openai.reply_text
    assert 0 < raw.ttl(key) <= 3600


def test_a_planted_pickle_or_garbage_in_redis_is_a_miss(make_app, redis_url, fake_openai):
    import pickle

    client = make_app(redis={"url": redis_url}).test_client()
    post(client, DETERMINISTIC)
    raw = redis.Redis.from_url(redis_url)
    [key] = raw.keys("LLMGateway:cache:*")
    for planted in (b"!" + pickle.dumps({"content": "pwned"}), zlib.compress(b"[1,2]"), b"\x00garbage"):
        raw.set(key, planted)
        response = post(client, DETERMINISTIC, **{"Cache-Control": "no-store"})
        assert response.status_code == 200 and response.headers["X-LLMGateway-Cache"] == "MISS"
        assert response.json["choices"][0]["message"]["content"] == fake_openai.reply_text


def test_entries_larger_than_the_cap_are_not_stored(make_app, redis_url, fake_openai):
    client = make_app(redis={"url": redis_url}, cache={"max_entry_bytes": 2048}).test_client()
    fake_openai.reply_text = " ".join(f"word{i}" for i in range(600))  # > 2 KiB of JSON
    assert post(client, DETERMINISTIC).headers["X-LLMGateway-Cache"] == "MISS"
    assert post(client, DETERMINISTIC).headers["X-LLMGateway-Cache"] == "MISS"
    assert redis.Redis.from_url(redis_url).keys("LLMGateway:cache:*") == []

    fake_openai.reply_text = "short"
    small = {**DETERMINISTIC, "messages": [{"role": "user", "content": "small one"}]}
    post(client, small)
    assert post(client, small).headers["X-LLMGateway-Cache"] == "HIT"


def test_cache_disabled_always_bypasses(make_app, fake_openai):
    client = make_app(cache={"enabled": False}).test_client()
    assert post(client, DETERMINISTIC).headers["X-LLMGateway-Cache"] == "BYPASS"
    assert post(client, DETERMINISTIC).headers["X-LLMGateway-Cache"] == "BYPASS"
    assert len(fake_openai.served) == 2
