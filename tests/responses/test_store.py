"""The Responses store on SQLite and PostgreSQL: save, load and delete only for the owning key owner."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from llmgateway.infra.db import make_session_factory
from llmgateway.infra.schema import upgrade_schema
from llmgateway.infra.stored_responses import ResponseStore

RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "model": "gpt-4o",
    "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "B"}]}],
}
INPUT = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "A"}]}]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 's.db'}"
    upgrade_schema(url)
    engine = create_engine(url)
    yield ResponseStore(make_session_factory(engine))
    engine.dispose()


def test_the_owner_loads_what_was_saved_and_the_history_continues_from_it(store):
    store.save(owner="Team A", api_key_id="k1", response=RESPONSE, input_items=INPUT)

    conversation = store.load("resp_1", "Team A")
    assert conversation.response == RESPONSE
    assert conversation.history() == [*INPUT, *RESPONSE["output"]]


def test_another_owner_sees_nothing_and_cannot_delete(store):
    store.save(owner="Team A", api_key_id="k1", response=RESPONSE, input_items=INPUT)

    assert store.load("resp_1", "Team B") is None
    assert store.delete("resp_1", "Team B") is False
    assert store.load("resp_1", "Team A") is not None


def test_delete_removes_it_once(store):
    store.save(owner="Team A", api_key_id="k1", response=RESPONSE, input_items=INPUT)
    assert store.delete("resp_1", "Team A") is True
    assert store.delete("resp_1", "Team A") is False
    assert store.load("resp_1", "Team A") is None


@pytest.mark.parametrize("bad_id", ["", "x" * 65, "resp_\x00", "' OR 1=1 --"])
def test_absurd_ids_are_simply_absent(store, bad_id):
    assert store.load(bad_id, "Team A") is None
    assert store.delete(bad_id, "Team A") is False
