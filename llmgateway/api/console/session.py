"""Console sessions: a short-lived signed token naming the admin key (never the key itself), and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt as pyjwt

ALGORITHM = "HS256"
TOKEN_TYPE = "console"  # never "access": a console cookie is not accepted as an API Bearer token, nor the reverse
AUDIENCE = "llmgateway-console"
#: A session is renewed while in use, but never past this long after sign-in.
MAX_SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """The claims of a valid session token."""

    session_id: str
    key_id: str
    permissions: tuple[str, ...]
    signed_in_at: int
    expires_at: int


class ConsoleSessions:
    """Issues and reads session tokens and derives CSRF tokens, all under one secret derived for the console."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        # A key of its own: the JWT secret signs API tokens; the console's tokens must not pass for those.
        self._key = hmac.new(secret.encode(), b"llmgateway console sessions", hashlib.sha256).digest()
        self.ttl_seconds = max(60, ttl_seconds)

    def issue(self, key_id: str, permissions: tuple[str, ...], now: float | None = None) -> tuple[str, ConsoleSession]:
        """A new session for a signed-in key."""
        moment = int(now if now is not None else time.time())
        session = ConsoleSession(secrets.token_urlsafe(18), key_id, permissions, moment, 0)
        return self.renew(session, now=moment)

    def renew(self, session: ConsoleSession, now: float | None = None) -> tuple[str, ConsoleSession]:
        """The same session (same id, so open forms keep working) with a later expiry, capped at the maximum."""
        moment = int(now if now is not None else time.time())
        expires = min(moment + self.ttl_seconds, session.signed_in_at + MAX_SESSION_SECONDS)
        renewed = ConsoleSession(session.session_id, session.key_id, session.permissions, session.signed_in_at, expires)
        claims = {
            "sub": renewed.key_id,
            "type": TOKEN_TYPE,
            "aud": AUDIENCE,
            "jti": renewed.session_id,
            "permissions": list(renewed.permissions),
            "auth_time": renewed.signed_in_at,
            "iat": moment,
            "exp": renewed.expires_at,
        }
        return pyjwt.encode(claims, self._key, algorithm=ALGORITHM), renewed

    def read(self, token: str) -> ConsoleSession | None:
        """The session a token carries, or None when it is forged, expired, or not a console token."""
        try:
            claims = pyjwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "sub", "jti", "aud"]},
            )
        except (pyjwt.PyJWTError, ValueError):
            return None
        permissions = claims.get("permissions")
        signed_in_at = claims.get("auth_time")
        if (
            claims.get("type") != TOKEN_TYPE
            or not isinstance(permissions, list)
            or not isinstance(signed_in_at, int)
            or not isinstance(claims["sub"], str)
        ):
            return None
        return ConsoleSession(
            str(claims["jti"]), claims["sub"], tuple(str(p) for p in permissions), signed_in_at, int(claims["exp"])
        )

    def should_renew(self, session: ConsoleSession, now: float | None = None) -> bool:
        """Past half its lifetime and still below the maximum: worth a fresh cookie."""
        moment = now if now is not None else time.time()
        cap = session.signed_in_at + MAX_SESSION_SECONDS
        return session.expires_at - moment < self.ttl_seconds / 2 and session.expires_at < cap

    def csrf_token(self, purpose: str, binding: str) -> str:
        """The CSRF token for a form: bound to the session id (or, before sign-in, to a random nonce)."""
        return hmac.new(self._key, f"csrf:{purpose}:{binding}".encode(), hashlib.sha256).hexdigest()

    def csrf_matches(self, purpose: str, binding: str, presented: str | None) -> bool:
        if not presented or not binding:
            return False
        return hmac.compare_digest(self.csrf_token(purpose, binding), presented)
