"""S5, S6, S11: every route declares a permission; size and shape limits; no auth-less mode by accident."""

from __future__ import annotations

import time

import pytest

from llmgateway import create_app
from tests.conftest import ADMIN_KEY, CHAT, COMPLETION_KEY, EMBEDDING_KEY, auth

PUBLIC = "public"
ANY = "authenticated"
CONSOLE = "console"  # admin, through the console's session cookie only (header credentials are ignored there)
#: Every rule of the URL map and the permission it needs; a route missing here fails the test.
ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/completion"): "completion",
    ("POST", "/api/v1/completion/stream"): "completion",
    ("POST", "/api/v1/embedding"): "embedding",
    ("GET", "/api/v1/models"): ANY,
    ("GET", "/api/v1/models/<path:model_id>"): ANY,
    ("GET", "/api/v1/models/provider/<name>"): ANY,
    ("GET", "/api/v1/admin/usage"): "admin",
    ("GET", "/api/v1/admin/keys"): "admin",
    ("POST", "/api/v1/admin/keys"): "admin",
    ("DELETE", "/api/v1/admin/keys/<key_id>"): "admin",
    ("GET", "/api/v1/admin/breakers"): "admin",
    ("GET", "/api/v1/admin/deployments"): "admin",
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/v1/chat/completions"): "completion",
    ("POST", "/v1/embeddings"): "embedding",
    ("GET", "/v1/models"): ANY,
    ("GET", "/v1/models/<path:model_id>"): ANY,
    ("POST", "/v1/messages"): "completion",
    ("POST", "/v1/messages/count_tokens"): "completion",
    ("POST", "/v1/responses"): "completion",
    ("GET", "/v1/responses/<response_id>"): "completion",
    ("DELETE", "/v1/responses/<response_id>"): "completion",
    ("GET", "/health"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # by default (server.public_paths); admin when removed from there
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/<path:filename>"): PUBLIC,
    ("GET", "/admin/static/<path:filename>"): PUBLIC,
    ("GET", "/admin/sign-in"): PUBLIC,  # rate limited per address
    ("POST", "/admin/sign-in"): PUBLIC,  # CSRF-checked; the key arrives in the form
    ("GET", "/admin/"): CONSOLE,
    ("POST", "/admin/sign-out"): CONSOLE,
    ("GET", "/admin/usage"): CONSOLE,
    ("GET", "/admin/usage.csv"): CONSOLE,
    ("GET", "/admin/keys"): CONSOLE,
    ("POST", "/admin/keys"): CONSOLE,
    ("GET", "/admin/keys/<key_id>/revoke"): CONSOLE,
    ("POST", "/admin/keys/<key_id>/revoke"): CONSOLE,
    ("GET", "/admin/health"): CONSOLE,
}
SAMPLE_ARGS = {
    "model_id": "openai.gpt-4o",
    "name": "openai",
    "key_id": "00000000-0000-0000-0000-000000000000",
    "filename": "index.css",
    "response_id": "resp_0",
}


def _rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule


def _path(rule) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<path:{name}>", SAMPLE_ARGS[name]).replace(f"<string:{name}>", SAMPLE_ARGS[name])
        path = path.replace(f"<{name}>", SAMPLE_ARGS[name])
    return path


def _rule_key(method, rule) -> tuple[str, str]:
    return method, rule.rule.replace("<string:", "<")


def error_code(response) -> str:
    """The gateway's code, or the error type of a surface with its own error shape (Anthropic's)."""
    error = response.json["error"]
    return error["code"] if "code" in error else error["type"]


def test_every_route_is_listed(app):
    unlisted = [_rule_key(m, r) for m, r in _rules(app) if _rule_key(m, r) not in ROUTE_PERMISSIONS]
    assert not unlisted, f"routes without a declared permission in this table: {unlisted}"


@pytest.mark.parametrize(
    "credential",
    ["none", "completion", "embedding", "admin", "jwt-completion"],
)
def test_route_permission_matrix(client, credential):
    app = client.application
    headers: dict[str, str] = {}
    granted: set[str] = set()
    if credential == "completion":
        headers, granted = auth(COMPLETION_KEY), {"completion"}
    elif credential == "embedding":
        headers, granted = auth(EMBEDDING_KEY), {"embedding"}
    elif credential == "admin":
        headers, granted = auth(ADMIN_KEY), {"completion", "embedding", "admin"}
    elif credential == "jwt-completion":
        token = client.post("/api/v1/auth/token", headers=auth(COMPLETION_KEY)).json["access_token"]
        headers, granted = {"Authorization": f"Bearer {token}"}, {"completion"}
    for method, rule in _rules(app):
        needed = ROUTE_PERMISSIONS[_rule_key(method, rule)]
        if needed == PUBLIC:
            continue
        response = client.open(_path(rule), method=method, headers=headers, json={})
        status = response.status_code
        if needed == CONSOLE:  # no session cookie: a page sends the browser to sign in, a form post is refused
            assert status == (303 if method == "GET" else 401), (credential, method, rule.rule, status)
            if method == "GET":
                assert "/admin/sign-in" in response.headers["Location"]
            continue
        if credential == "none":
            assert status == 401, (method, rule.rule, status)
            assert error_code(response) in ("authentication_required", "authentication_error")
        elif needed == ANY or needed in granted:
            assert status not in (401, 403), (credential, method, rule.rule, status)
        else:
            assert status == 403, (credential, method, rule.rule, status)
            assert error_code(response) in ("permission_denied", "permission_error")


def test_empty_configuration_requires_auth_everywhere(tmp_path, monkeypatch):
    """S11: started with no configuration at all, every API route answers 401 and there is no debug route."""
    monkeypatch.chdir(tmp_path)
    for name in ("LLMGATEWAY_CONFIG", "API_KEY", "DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    try:
        client = app.test_client()
        for method, rule in _rules(app):
            needed = ROUTE_PERMISSIONS.get(_rule_key(method, rule))
            if needed == PUBLIC:
                continue
            expected = 303 if needed == CONSOLE and method == "GET" else 401  # the console redirects to sign-in
            assert client.open(_path(rule), method=method, json={}).status_code == expected, rule.rule
        assert not app.debug
        assert (tmp_path / "llmgateway.db").exists()
        assert oct((tmp_path / "llmgateway.secrets").stat().st_mode & 0o777) == "0o600"
    finally:
        app.extensions["llmgateway"].close()


def test_oversized_body_is_413_in_the_envelope(make_app):
    app = make_app(limits={"max_body_bytes": 4096})
    response = app.test_client().post(
        "/api/v1/completion",
        data=b'{"model": "' + b"x" * 10_000 + b'"}',
        headers={**auth(COMPLETION_KEY), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**CHAT, "max_tokens": 1_000_001}, "max_tokens"),
        ({**CHAT, "max_tokens": 0}, "max_tokens"),
        ({**CHAT, "temperature": 2.5}, "temperature"),
        ({**CHAT, "messages": [{"role": "user", "content": "x"}] * 10_001}, "messages"),
        ({**CHAT, "messages": []}, "messages"),
        ({**CHAT, "messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool_call_id"),
        ({**CHAT, "messages": [{"role": "narrator", "content": "x"}]}, "messages.0.role"),
        ({**CHAT, "api_base": "http://evil.example"}, "api_base"),
        ({**CHAT, "base_url": "http://evil.example"}, "base_url"),
        ({**CHAT, "headers": {"Authorization": "x"}}, "headers"),
        ({**CHAT, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": CHAT["messages"]}, "model"),
    ],
)
def test_bad_completion_input_is_400_naming_the_param(client, fake_openai, body, param):
    response = client.post("/api/v1/completion", json=body, headers=auth(COMPLETION_KEY))
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_request"
    assert response.json["error"]["param"] == param
    assert fake_openai.requests == []


def test_deep_json_and_huge_arrays_are_rejected_fast(client):
    deep = b'{"model": "gpt-4o", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    started = time.perf_counter()
    response = client.post(
        "/api/v1/completion", data=deep, headers={**auth(COMPLETION_KEY), "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_request"
    nested = {"model": "gpt-4o", "messages": CHAT["messages"], "metadata": {}}
    node = nested["metadata"]
    for _ in range(70):
        node["a"] = {}
        node = node["a"]
    assert client.post("/api/v1/completion", json=nested, headers=auth(COMPLETION_KEY)).status_code == 400
    inputs = {"model": "text-embedding-3-small", "input": ["x"] * 2049}
    response = client.post("/api/v1/embedding", json=inputs, headers=auth(EMBEDDING_KEY))
    assert response.status_code == 400 and response.json["error"]["param"] == "input"
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"model=gpt-4o", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe", "application/json", 400),
    ],
)
def test_malformed_bodies_get_a_4xx_envelope(client, data, content_type, status):
    response = client.post(
        "/api/v1/completion", data=data, headers={**auth(COMPLETION_KEY), "Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.json["error"]["code"] == "invalid_request"


def test_unknown_route_and_wrong_method_use_the_envelope(client):
    response = client.get("/api/v1/nope", headers=auth(ADMIN_KEY))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    response = client.get("/api/v1/completion", headers=auth(ADMIN_KEY))
    assert response.status_code == 405 and response.json["error"]["code"] == "method_not_allowed"
    assert response.headers["X-Request-ID"]


def test_request_ids_echo_a_sane_client_id_and_replace_a_bad_one(client):
    sane = client.get("/health", headers={"X-Request-ID": "client-123"})
    assert sane.headers["X-Request-ID"] == "client-123"
    assert sane.headers["X-LLMGateway-Request-ID"] != "client-123"
    bad = client.get("/health", headers={"X-Request-ID": "bad id <script>" + "x" * 200})
    assert bad.headers["X-Request-ID"] == bad.headers["X-LLMGateway-Request-ID"]


def test_unexpected_exception_is_a_500_envelope_without_traceback(app, client, monkeypatch):
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(app.extensions["llmgateway"].gateway, "complete", explode)
    response = client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert b"secret-internal-detail" not in response.data and b"Traceback" not in response.data
