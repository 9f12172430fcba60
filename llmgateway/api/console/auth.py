"""The console's credential: its session cookie (read by the security hook), cookie writing and CSRF checks."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns; flask's Response is one

from llmgateway.api.console.session import ConsoleSession, ConsoleSessions
from llmgateway.api.security import requires
from llmgateway.core.keys import Principal
from llmgateway.errors import AuthenticationRequired, CsrfFailed, InvalidToken
from llmgateway.infra.signed_out import SignedOutSessions
from llmgateway.services import services

F = TypeVar("F", bound=Callable[..., Any])
EXTENSION_KEY = "llmgateway.console"
SIGNED_OUT_KEY = "llmgateway.console.signed_out"
COOKIE = "llmgw_console"
SIGN_IN_COOKIE = "llmgw_console_signin"  # a random nonce the sign-in form's CSRF token is bound to
COOKIE_PATH = "/admin"
CSRF_FIELD = "csrf_token"
SESSION_PURPOSE = "session"
SIGN_IN_PURPOSE = "sign-in"


def sessions() -> ConsoleSessions:
    return current_app.extensions[EXTENSION_KEY]


def console_principal() -> Principal:
    """The principal of the request's console session; the security hook calls this instead of reading headers."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise AuthenticationRequired("Sign in to the console.")
    session = sessions().read(token)
    if session is None or signed_out().contains(session.session_id):
        raise InvalidToken("The console session is invalid or has expired; sign in again.")
    principal = services().authenticator.authenticate_subject(session.key_id, frozenset(session.permissions))
    g.console_session = session
    return principal


def signed_out() -> SignedOutSessions:
    return current_app.extensions[SIGNED_OUT_KEY]


def console_page(view: F) -> F:
    """A console route: admin only, through the session cookie, under the API's per-key rate limit."""
    return requires("admin", rate_limited=True, credential=console_principal)(view)


def current_session() -> ConsoleSession | None:
    return g.get("console_session")


def csrf_token() -> str:
    """The token every form of a signed-in page carries."""
    session = current_session()
    return sessions().csrf_token(SESSION_PURPOSE, session.session_id) if session else ""


def check_csrf() -> None:
    """Refuse a state-changing request whose form token does not match the session."""
    session = current_session()
    presented = request.form.get(CSRF_FIELD)
    if session is None or not sessions().csrf_matches(SESSION_PURPOSE, session.session_id, presented):
        raise CsrfFailed("The form's security token is missing or wrong; reload the page and try again.")


def sign_in_nonce() -> tuple[str, bool]:
    """The nonce the sign-in form is bound to, and whether it is new (then it must be set as a cookie)."""
    nonce = request.cookies.get(SIGN_IN_COOKIE)
    if nonce and 16 <= len(nonce) <= 64:
        return nonce, False
    return secrets.token_urlsafe(24), True


def check_sign_in_csrf() -> None:
    nonce = request.cookies.get(SIGN_IN_COOKIE, "")
    if not sessions().csrf_matches(SIGN_IN_PURPOSE, nonce, request.form.get(CSRF_FIELD)):
        raise CsrfFailed("The sign-in form expired or was not sent by this console; reload it and try again.")


def set_cookie(response: BaseResponse, name: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, Secure when the console is reached over HTTPS, scoped to /admin."""
    response.set_cookie(
        name, value, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=request.is_secure
    )


def start_session(response: BaseResponse, principal: Principal) -> None:
    token, session = sessions().issue(principal.key_id, ("admin",))
    set_cookie(response, COOKIE, token, sessions().ttl_seconds)
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=request.is_secure)
    g.console_session = session


def end_session(response: BaseResponse) -> None:
    """Forget the session server-side (so a copy of the cookie stops working too) and drop the cookie."""
    session = current_session()
    if session is not None:
        signed_out().add(session.session_id, session.expires_at)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=request.is_secure)


def renew_session(response: BaseResponse) -> BaseResponse:
    """after_request: extend a session in use (same id) once it is past half its lifetime."""
    session = current_session()
    if (
        session is not None
        and response.status_code < 400
        and COOKIE not in _cookies_set(response)
        and sessions().should_renew(session)
    ):
        token, _ = sessions().renew(session)
        set_cookie(response, COOKIE, token, sessions().ttl_seconds)
    return response


def _cookies_set(response: BaseResponse) -> set[str]:
    return {header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")}
