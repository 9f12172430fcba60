"""Authentication and permissions: every route declares what it needs; undeclared routes fail closed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import jwt as pyjwt
from flask import current_app, g, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException

from llmgateway.core.keys import Principal, looks_like_api_key
from llmgateway.errors import AuthenticationRequired, InvalidToken, PermissionDenied
from llmgateway.services import services

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"
AUTHENTICATED = "authenticated"  # any valid credential, whatever its permissions


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a view needs: a permission (or PUBLIC) and, for usage routes, the ledger endpoint name."""

    permission: str
    usage_endpoint: str | None = None
    limited: bool = False
    #: Where the principal comes from instead of the request's headers (the console's session cookie).
    credential: Callable[[], Principal] | None = None

    @property
    def rate_limited(self) -> bool:
        """Usage routes and routes declared `rate_limited` share the key's request rate limit."""
        return self.limited or self.usage_endpoint is not None


def requires(
    permission: str,
    *,
    usage: str | None = None,
    rate_limited: bool = False,
    credential: Callable[[], Principal] | None = None,
) -> Callable[[F], F]:
    """Declare a view's permission; `usage` names the ledger endpoint for completion/embedding routes
    (which are rate limited); `rate_limited` puts another route under the same per-key limit; `credential`
    authenticates from something other than the API-key/Bearer headers (which such a route then ignores)."""

    def mark(view: F) -> F:
        requirement = Requirement(permission, usage, rate_limited, credential)
        view._llmgateway_requirement = requirement  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    return requires(PUBLIC)(view)


def requirement_for(endpoint: str | None, method: str) -> Requirement | None:
    """The declared requirement of the view serving `endpoint` for `method`."""
    if endpoint is None:
        return None
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return None
    declared = getattr(view, "_llmgateway_requirement", None)
    view_class = getattr(view, "view_class", None)
    if declared is None and view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        declared = getattr(handler, "_llmgateway_requirement", None)
    return declared


def authenticate_request() -> None:
    """before_request hook: find the route's declared requirement and, unless public, who is calling (401)."""
    current = g.llmgateway
    if request.method == "OPTIONS" or request.endpoint is None:
        return
    if request.path in current_app.config["LLMGATEWAY_PUBLIC_PATHS"] or request.endpoint.startswith("api-docs."):
        return
    requirement = requirement_for(request.endpoint, request.method)
    if requirement is None:
        raise PermissionDenied("This route declares no permission.")
    current.requirement = requirement
    if requirement.permission != PUBLIC:
        current.principal = requirement.credential() if requirement.credential is not None else principal_from_headers()


def authorize_request() -> None:
    """before_request hook, after the usage record was opened: the caller must hold the route's permission."""
    current = g.llmgateway
    requirement, principal = current.requirement, current.principal
    if requirement is None or principal is None or requirement.permission == AUTHENTICATED:
        return
    if not principal.allows(requirement.permission):
        raise PermissionDenied(f"This route needs the '{requirement.permission}' permission.")


def presented_credential() -> str | None:
    """The credential from X-API-Key or Authorization: Bearer."""
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def principal_from_headers() -> Principal:
    credential = presented_credential()
    if credential is None:
        raise AuthenticationRequired()
    return principal_from_credential(credential, from_api_key_header=bool(request.headers.get("X-API-Key")))


def principal_from_credential(credential: str, *, from_api_key_header: bool = False) -> Principal:
    """An API key, or (as Bearer) a JWT signed by this gateway whose key is still live."""
    authenticator = services().authenticator
    if from_api_key_header or looks_like_api_key(credential):
        return authenticator.authenticate_key(credential)
    try:
        claims = decode_token(credential)
    except (pyjwt.PyJWTError, JWTExtendedException, ValueError, KeyError) as exc:
        raise InvalidToken() from exc
    if "exp" not in claims or not isinstance(claims.get("sub"), str) or claims.get("type") != "access":
        raise InvalidToken()
    permissions = claims.get("permissions")
    if not isinstance(permissions, list):
        raise InvalidToken()
    return authenticator.authenticate_subject(claims["sub"], frozenset(str(p) for p in permissions))
