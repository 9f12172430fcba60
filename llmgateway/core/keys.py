"""API key format, peppered hashing and the authenticated principal (no I/O here)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

KEY_PREFIX = "gw_"
_KEY_RE = re.compile(r"^gw_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43,})$")
_ALPHANUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key (directly or through a JWT) and what it may do."""

    key_id: str
    owner: str
    permissions: frozenset[str]
    rate_limit: str | None = None
    tpm_limit: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None
    expires_at: datetime | None = None
    revoked: bool = False

    def allows(self, permission: str) -> bool:
        return "admin" in self.permissions or permission in self.permissions

    def is_active(self, now: datetime | None = None) -> bool:
        if self.revoked:
            return False
        if self.expires_at is None:
            return True
        now = now or datetime.now(UTC).replace(tzinfo=None)
        return self.expires_at > now


class KeyHasher:
    """HMAC-SHA256 with a server-side pepper: a database leak alone cannot check guesses."""

    def __init__(self, pepper: str) -> None:
        self._pepper = pepper.encode()

    def digest(self, key: str) -> str:
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).hexdigest()

    def lookup_prefix(self, key: str) -> str:
        """The public part used to find a key: embedded in generated keys, derived for imported ones."""
        match = _KEY_RE.match(key)
        if match:
            return f"{KEY_PREFIX}{match.group(1)}"
        return "imp_" + self.digest("lookup:" + key)[:16]

    @staticmethod
    def matches(stored_hash: str, computed_hash: str) -> bool:
        return hmac.compare_digest(stored_hash.encode(), computed_hash.encode())


def generate_key() -> str:
    """A new key: public 12-char id plus a 256-bit random secret."""
    public = "".join(secrets.choice(_ALPHANUM) for _ in range(12))
    return f"{KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}"


def looks_like_api_key(credential: str) -> bool:
    """Whether a Bearer credential is an API key rather than a JWT (JWTs have exactly two dots)."""
    return credential.startswith(KEY_PREFIX) or credential.count(".") != 2
