"""API keys in the SQL ledger: create, find, list, revoke, import from configuration."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from llmgateway.config import ApiKeyConfig
from llmgateway.core.keys import KeyHasher, Principal, generate_key
from llmgateway.infra.db import db_call
from llmgateway.infra.models import ApiKey


def utcnow() -> datetime:
    """Naive UTC, the form every timestamp in the ledger is stored in."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_principal(row: ApiKey) -> Principal:
    return Principal(
        key_id=row.id,
        owner=row.owner,
        permissions=frozenset(p for p in row.permissions.split(",") if p),
        rate_limit=row.rate_limit,
        tpm_limit=row.tpm_limit,
        budget_usd=row.budget_usd,
        budget_period=row.budget_period,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
    )


class KeyStore:
    """Every database operation on API keys; the only holder of key hashes."""

    def __init__(self, sessions: sessionmaker[Session], hasher: KeyHasher) -> None:
        self._sessions = sessions
        self._engine = sessions.kw["bind"]
        self.hasher = hasher

    def find(self, presented: str) -> Principal | None:
        """The principal for a presented key, or None; hashes compared in constant time."""
        prefix = self.hasher.lookup_prefix(presented)
        computed = self.hasher.digest(presented)

        def query() -> Principal | None:
            with self._sessions() as session:
                row = session.scalar(select(ApiKey).where(ApiKey.key_prefix == prefix))
                if row is None or not self.hasher.matches(row.key_hash, computed):
                    return None
                return to_principal(row)

        return query()  # an indexed read: fast, and never blocked by a writer (SQLite runs in WAL mode)

    def get(self, key_id: str) -> Principal | None:
        if "\x00" in key_id:  # PostgreSQL rejects NUL in text: no key can have such an id
            return None

        def query() -> Principal | None:
            with self._sessions() as session:
                row = session.get(ApiKey, key_id)
                return to_principal(row) if row else None

        return query()

    def create_from(self, fields: Mapping[str, Any], *, source: str) -> tuple[str, ApiKey]:
        """Create a key from validated key fields (the admin API's and the console's form); times stored in UTC."""
        expires = fields.get("expires_at")
        return self.create(
            owner=fields["owner"],
            permissions=fields["permissions"],
            rate_limit=fields.get("rate_limit"),
            tpm_limit=fields.get("tpm_limit"),
            budget_usd=fields.get("budget_usd"),
            budget_period=fields.get("budget_period"),
            expires_at=expires.astimezone(UTC).replace(tzinfo=None) if expires is not None else None,
            source=source,
        )

    def create(
        self,
        *,
        owner: str,
        permissions: Iterable[str],
        rate_limit: str | None = None,
        tpm_limit: int | None = None,
        budget_usd: float | None = None,
        budget_period: str | None = None,
        expires_at: datetime | None = None,
        source: str = "api",
        key: str | None = None,
        key_id: str | None = None,
    ) -> tuple[str, ApiKey]:
        """Store a key (generated unless given) and return it with its row; the key is not kept."""
        key = key or generate_key()
        row = ApiKey(
            id=key_id or str(uuid.uuid4()),
            key_prefix=self.hasher.lookup_prefix(key),
            key_hash=self.hasher.digest(key),
            owner=owner,
            permissions=",".join(sorted(set(permissions))),
            rate_limit=rate_limit,
            tpm_limit=tpm_limit,
            budget_usd=budget_usd,
            budget_period=budget_period,
            expires_at=expires_at,
            source=source,
            created_at=utcnow(),
        )

        def insert() -> None:
            with self._sessions.begin() as session:
                session.add(row)

        db_call(self._engine, insert)
        return key, row

    def list(self) -> list[ApiKey]:
        def query() -> list[ApiKey]:
            with self._sessions() as session:
                return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))

        return db_call(self._engine, query)

    def revoke(self, key_id: str) -> bool:
        """Mark a key revoked; False when no such live key exists."""
        if "\x00" in key_id:  # PostgreSQL rejects NUL in text: no key can have such an id
            return False

        def write() -> bool:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
                )
                return bool(cast(CursorResult[Any], result).rowcount)

        return db_call(self._engine, write)

    def count(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)

    def import_configured(self, keys: Iterable[ApiKeyConfig]) -> int:
        """Import keys from configuration (hashed); idempotent, and config changes update the row."""
        imported = 0
        with self._sessions.begin() as session:
            for cfg in keys:
                prefix = self.hasher.lookup_prefix(cfg.key)
                row = session.scalar(select(ApiKey).where(ApiKey.key_prefix == prefix))
                values = {
                    "owner": cfg.owner,
                    "permissions": ",".join(sorted(set(cfg.permissions))),
                    "rate_limit": cfg.rate_limit,
                    "tpm_limit": cfg.tpm_limit,
                    "budget_usd": cfg.budget_usd,
                    "budget_period": cfg.budget_period,
                    "expires_at": cfg.expires_at.astimezone(UTC).replace(tzinfo=None) if cfg.expires_at else None,
                }
                if row is None:
                    session.add(
                        ApiKey(
                            id=cfg.id or str(uuid.uuid5(uuid.NAMESPACE_URL, "llmgateway:" + prefix)),
                            key_prefix=prefix,
                            key_hash=self.hasher.digest(cfg.key),
                            source="config",
                            created_at=utcnow(),
                            **values,
                        )
                    )
                    imported += 1
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
        return imported

    def bootstrap(self, configured: Iterable[ApiKeyConfig], bootstrap_key: str | None) -> str | None:
        """Import configured keys (and API_KEY as an admin key); with no key at all, create one admin key.

        Returns the created key so the caller can print it once, else None.
        """
        keys = list(configured)
        if bootstrap_key:
            keys.append(ApiKeyConfig(key=bootstrap_key, owner="bootstrap-admin", permissions=("admin",)))
        self.import_configured(keys)
        if self.count() > 0:
            return None
        key, _ = self.create(owner="bootstrap-admin", permissions=("admin",), source="bootstrap")
        return key
