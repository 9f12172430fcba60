"""Authenticates API keys and key-backed JWT subjects from a short-lived per-worker cache."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from llmgateway.core.keys import KeyHasher, Principal
from llmgateway.errors import InvalidApiKey, InvalidToken, ServiceUnavailable

log = logging.getLogger(__name__)
NEGATIVE_TTL = 1.0
MAX_ENTRIES = 100_000


class KeyLookup(Protocol):
    hasher: KeyHasher

    def find(self, presented: str) -> Principal | None: ...

    def get(self, key_id: str) -> Principal | None: ...


class Authenticator:
    """Known keys are answered from memory for `ttl` seconds (so revocation bites within `ttl`).

    While the database is unreachable, keys seen before keep working from their last known state.
    """

    def __init__(self, store: KeyLookup, ttl: float = 3.0) -> None:
        self._store = store
        self._ttl = ttl
        self._by_hash: dict[str, tuple[float, Principal | None]] = {}
        self._by_id: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()

    def authenticate_key(self, presented: str) -> Principal:
        digest = self._store.hasher.digest(presented)
        principal = self._cached(self._by_hash, digest, lambda: self._store.find(presented))
        if principal is None or not principal.is_active():
            raise InvalidApiKey()
        return principal

    def authenticate_subject(self, key_id: str, permissions: frozenset[str]) -> Principal:
        """A JWT's subject: the key must still be live; the token may narrow, never widen, permissions."""
        principal = self._cached(self._by_id, key_id, lambda: self._store.get(key_id))
        if principal is None or not principal.is_active():
            raise InvalidToken("The token's key has been revoked or has expired.")
        granted = frozenset(permissions) & principal.permissions
        if "admin" in principal.permissions:
            granted = frozenset(permissions)
        return Principal(
            key_id=principal.key_id,
            owner=principal.owner,
            permissions=granted,
            rate_limit=principal.rate_limit,
            tpm_limit=principal.tpm_limit,
            budget_usd=principal.budget_usd,
            budget_period=principal.budget_period,
            expires_at=principal.expires_at,
        )

    def forget(self, key_id: str | None = None) -> None:
        """Drop cached answers (all, or those of one key) so a local revocation bites at once."""
        with self._lock:
            if key_id is None:
                self._by_hash.clear()
                self._by_id.clear()
                return
            self._by_id.pop(key_id, None)
            for digest, (_, principal) in list(self._by_hash.items()):
                if principal is not None and principal.key_id == key_id:
                    del self._by_hash[digest]

    def _cached(
        self, table: dict[str, tuple[float, Principal | None]], cache_key: str, load: Callable[[], Principal | None]
    ) -> Principal | None:
        now = time.monotonic()
        entry = table.get(cache_key)
        if entry is not None and entry[0] > now:
            return entry[1]
        with self._lock:
            # Single flight: while one request refreshes an expired key, the others use its last state
            # (at most one refresh old), instead of all querying the database at the same moment.
            if entry is not None and cache_key in self._refreshing:
                return entry[1]
            self._refreshing.add(cache_key)
        try:
            principal = load()
        except SQLAlchemyError as exc:
            if entry is not None and entry[1] is not None:
                log.warning("key store unreachable; using the last known state of a key")
                return entry[1]
            raise ServiceUnavailable("The key store is unreachable.") from exc
        finally:
            with self._lock:
                self._refreshing.discard(cache_key)
        ttl = self._ttl if principal is not None else min(self._ttl, NEGATIVE_TTL)
        with self._lock:
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[cache_key] = (now + ttl, principal)
        return principal
