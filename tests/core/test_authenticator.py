"""The per-worker key cache: answers from memory, expires, refreshes once under concurrency, survives an outage."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.exc import OperationalError

from llmgateway.core.authenticator import Authenticator
from llmgateway.core.keys import KeyHasher, Principal
from llmgateway.errors import InvalidApiKey, ServiceUnavailable

KEY = "a-presented-key-0123456789"


class CountingStore:
    """A key store in memory that counts lookups and can be slowed or broken."""

    def __init__(self) -> None:
        self.hasher = KeyHasher("p" * 40)
        self.lookups = 0
        self.gate: threading.Event | None = None
        self.down = False
        self.principal: Principal | None = Principal("k1", "Team", frozenset({"completion"}))

    def find(self, presented: str) -> Principal | None:
        self.lookups += 1
        if self.gate is not None:
            self.gate.wait(5)
        if self.down:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return self.principal if presented == KEY else None

    def get(self, key_id: str) -> Principal | None:
        return self.principal


def test_known_key_is_answered_from_memory_until_the_ttl():
    store = CountingStore()
    auth = Authenticator(store, ttl=0.2)
    for _ in range(50):
        assert auth.authenticate_key(KEY).key_id == "k1"
    assert store.lookups == 1
    time.sleep(0.25)
    auth.authenticate_key(KEY)
    assert store.lookups == 2


def test_an_expired_key_is_refreshed_once_while_others_use_its_last_state():
    store = CountingStore()
    auth = Authenticator(store, ttl=0.05)
    auth.authenticate_key(KEY)
    time.sleep(0.06)
    store.gate = threading.Event()
    refresher = threading.Thread(target=auth.authenticate_key, args=(KEY,))
    refresher.start()
    time.sleep(0.05)  # the refresher is now inside the (blocked) lookup
    answers = [auth.authenticate_key(KEY).key_id for _ in range(20)]
    store.gate.set()
    refresher.join(5)
    assert answers == ["k1"] * 20
    assert store.lookups == 2


def test_revocation_bites_after_the_ttl_and_unknown_keys_fail():
    store = CountingStore()
    auth = Authenticator(store, ttl=0.05)
    auth.authenticate_key(KEY)
    store.principal = Principal("k1", "Team", frozenset({"completion"}), revoked=True)
    time.sleep(0.06)
    with pytest.raises(InvalidApiKey):
        auth.authenticate_key(KEY)
    with pytest.raises(InvalidApiKey):
        auth.authenticate_key("another-key-0123456789")


def test_database_outage_keeps_known_keys_working_and_refuses_new_ones():
    store = CountingStore()
    auth = Authenticator(store, ttl=0.01)
    auth.authenticate_key(KEY)
    store.down = True
    time.sleep(0.02)
    assert auth.authenticate_key(KEY).key_id == "k1"
    with pytest.raises(ServiceUnavailable):
        auth.authenticate_key("never-seen-key-0123456789")
