"""Request rate limits (Flask-Limiter): one limit per API key shared by every usage route and the token exchange."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter

from llmgateway.api.security import presented_credential, principal_from_credential, requirement_for
from llmgateway.core.keys import Principal
from llmgateway.errors import ConfigError, GatewayError
from llmgateway.infra import limiter_storage
from llmgateway.services import Services

EXTENSION_KEY = "llmgateway.limiter"
TRUSTED_PROXIES = "LLMGATEWAY_TRUSTED_PROXIES"
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def register_rate_limits(app: Flask, svc: Services) -> Limiter | None:
    """Bind a limiter to the app. Call after the authentication hook is registered: its before_request
    must run first, so the limit can be keyed by the authenticated key, never by client-supplied headers."""
    settings = svc.settings
    if not settings.rate_limits.enabled:
        return None
    app.config[TRUSTED_PROXIES] = parse_networks(settings.server.trusted_proxies)
    redis = svc.extras.get("redis")
    storage_options = {"connection_pool": redis.pool, "key_prefix": f"{redis.prefix}limits"} if redis else {}
    limiter = Limiter(
        key_func=limit_key,
        application_limits=[limit_for_request],
        application_limits_exempt_when=is_exempt,
        headers_enabled=True,
        strategy=settings.rate_limits.strategy,
        # with Redis: the stock storage plus one Lua script per hit that also returns the window for the headers
        storage_uri=f"{limiter_storage.SCHEME}://" if redis else "memory://",
        storage_options=storage_options,
        swallow_errors=True,  # a broken limiter store must never turn into a 5xx
        in_memory_fallback_enabled=True,  # per-worker limits while Redis is down; Redis again once it answers
    )
    app.after_request(drop_retry_after_unless_refused)  # registered first, so it runs after the limiter's hook
    app.before_request(lambda: _forget_seen_windows(limiter))  # registered first, so it runs before the hit
    limiter.init_app(app)
    app.extensions[EXTENSION_KEY] = limiter
    return limiter


def _forget_seen_windows(limiter: Limiter) -> None:
    storage = limiter.storage
    if isinstance(storage, limiter_storage.OneTripRedisStorage):
        storage.forget()


def drop_retry_after_unless_refused(response: Response) -> Response:
    """Flask-Limiter adds Retry-After to every limited response; it only means something on a 429 or 503."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def is_exempt() -> bool:
    """Only routes declared rate-limited (usage routes and the token exchange) count against the limit."""
    requirement = requirement_for(request.endpoint, request.method)
    return requirement is None or not requirement.rate_limited


def limit_for_request() -> str:
    """The key's own limit (Principal.rate_limit) or the configured default."""
    principal = _limited_principal()
    if principal is not None and principal.rate_limit:
        return principal.rate_limit
    return current_app.extensions["llmgateway"].settings.rate_limits.default


def limit_key() -> str:
    """The authenticated key (a JWT counts as its key); otherwise the client's address."""
    principal = _limited_principal()
    if principal is not None:
        return f"key:{principal.key_id}"
    return f"addr:{client_address(request.remote_addr, request.headers.getlist('X-Forwarded-For'))}"


def _limited_principal() -> Principal | None:
    """The request's principal; on the token route (which authenticates in its view) a valid header credential."""
    current = g.get("llmgateway")
    if current is not None and current.principal is not None:
        return current.principal
    if "limit_principal" not in g:
        g.limit_principal = None
        credential = presented_credential()
        if credential is not None:
            try:
                g.limit_principal = principal_from_credential(
                    credential, from_api_key_header=bool(request.headers.get("X-API-Key"))
                )
            except GatewayError:
                pass
    return g.limit_principal


def client_address(peer: str | None, forwarded_for: Sequence[str]) -> str:
    """The socket peer, unless it is a trusted proxy: then the nearest untrusted X-Forwarded-For hop."""
    trusted: tuple[IpNetwork, ...] = current_app.config.get(TRUSTED_PROXIES, ())
    address = peer or "unknown"
    if not trusted or not _within(address, trusted):
        return address
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = hop[:64]
        if not _within(address, trusted):
            return address
    return address


def parse_networks(entries: Sequence[str]) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as exc:
        raise ConfigError("the configuration", "server.trusted_proxies", str(exc)) from exc


@lru_cache(maxsize=4096)
def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _within(address: str, networks: tuple[IpNetwork, ...]) -> bool:
    parsed = _parsed(address)
    return parsed is not None and any(parsed in network for network in networks)
