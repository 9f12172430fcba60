"""S13: the console admits admin keys only, through an HttpOnly SameSite=Strict session cookie that holds nothing of
the key; every state change needs the session's CSRF token; output is escaped; routes are rate limited."""

from __future__ import annotations

import base64
import json
import re

import pytest

from llmgateway import create_app
from tests.conftest import ADMIN_KEY, COMPLETION_KEY, EMBEDDING_KEY, auth, base_config
from tests.console.helpers import csrf_from, seed_usage, sign_in

COOKIE = "llmgw_console"


def session_cookie(client):
    return client.get_cookie(COOKIE, path="/admin")


def set_cookie_headers(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


@pytest.mark.parametrize("key", [COMPLETION_KEY, EMBEDDING_KEY])
def test_a_non_admin_key_is_refused(client, key):
    token = csrf_from(client.get("/admin/sign-in").text)
    response = client.post("/admin/sign-in", data={"csrf_token": token, "api_key": key})
    assert response.status_code == 403
    assert "no admin permission" in response.text
    assert session_cookie(client) is None
    assert client.get("/admin/usage").status_code == 303


@pytest.mark.parametrize("key", ["not-a-key", "gw_live_abcdefgh_" + "x" * 43, ""])
def test_an_unknown_key_is_refused_and_never_echoed(client, key):
    token = csrf_from(client.get("/admin/sign-in").text)
    response = client.post("/admin/sign-in", data={"csrf_token": token, "api_key": key})
    assert response.status_code in (400, 401)
    assert session_cookie(client) is None
    if key:
        assert key not in response.text


def test_header_credentials_do_not_open_the_console(client):
    """Only the session cookie authenticates console routes: an admin key in a header is ignored."""
    for headers in (auth(ADMIN_KEY), {"Authorization": f"Bearer {ADMIN_KEY}"}):
        response = client.get("/admin/usage", headers=headers)
        assert response.status_code == 303 and "/admin/sign-in" in response.headers["Location"]
        assert client.post("/admin/keys", headers=headers, data={"owner": "x"}).status_code == 401


@pytest.mark.parametrize("token", [None, "", "0" * 64, "forged"])
def test_sign_in_needs_the_forms_csrf_token(client, token):
    client.get("/admin/sign-in")
    data = {"api_key": ADMIN_KEY} | ({"csrf_token": token} if token is not None else {})
    response = client.post("/admin/sign-in", data=data)
    assert response.status_code == 403 and "sign-in form expired" in response.text
    assert session_cookie(client) is None


def test_a_sign_in_token_from_another_browser_is_refused(app):
    attacker, victim = app.test_client(), app.test_client()
    token = csrf_from(attacker.get("/admin/sign-in").text)
    victim.get("/admin/sign-in")  # the victim has a sign-in nonce of its own
    assert victim.post("/admin/sign-in", data={"csrf_token": token, "api_key": ADMIN_KEY}).status_code == 403
    assert attacker.post("/admin/sign-in", data={"csrf_token": token, "api_key": ADMIN_KEY}).status_code == 303


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_state_changes_need_the_sessions_csrf_token(app, client, token):
    sign_in(client)
    data = {"csrf_token": token} if token is not None else {}
    before = len(app.extensions["llmgateway"].keystore.list())
    created = client.post("/admin/keys", data={**data, "owner": "Mallory", "permissions": ["admin"]})
    assert created.status_code == 403 and "security token" in created.text
    assert len(app.extensions["llmgateway"].keystore.list()) == before
    victim = next(row for row in app.extensions["llmgateway"].keystore.list() if row.owner == "Team A")
    assert client.post(f"/admin/keys/{victim.id}/revoke", data=data).status_code == 403
    assert app.extensions["llmgateway"].keystore.get(victim.id).revoked is False
    assert client.post("/admin/sign-out", data=data).status_code == 403
    assert client.get("/admin/keys").status_code == 200  # still signed in


def test_another_sessions_csrf_token_is_refused(app):
    first, second = app.test_client(), app.test_client()
    first_token = sign_in(first)
    second_token = sign_in(second)
    assert first_token != second_token
    assert (
        second.post(
            "/admin/keys", data={"csrf_token": first_token, "owner": "x", "permissions": ["completion"]}
        ).status_code
        == 403
    )


def test_a_cookie_signed_by_another_instance_is_refused(make_app, tmp_path):
    ours = make_app()
    theirs = create_app(
        base_config(
            f"sqlite:///{tmp_path / 'other.db'}",
            jwt={"secret": "another-instance-jwt-secret-" + "z" * 40},
            ledger={"spool_dir": str(tmp_path / "other-spool")},
        )
    )
    try:
        other = theirs.test_client()
        sign_in(other)
        foreign = session_cookie(other).value
    finally:
        theirs.extensions["llmgateway"].close()
    client = ours.test_client()
    client.set_cookie(COOKIE, foreign, path="/admin")
    response = client.get("/admin/usage")
    assert response.status_code == 303 and "/admin/sign-in" in response.headers["Location"]
    assert any(h.startswith(f"{COOKIE}=;") for h in set_cookie_headers(response))  # the bad cookie is dropped
    assert client.post("/admin/keys", data={"owner": "x"}).status_code == 401


def test_api_tokens_and_console_cookies_are_not_interchangeable(client):
    access = client.post("/api/v1/auth/token", headers=auth(ADMIN_KEY)).json["access_token"]
    client.set_cookie(COOKIE, access, path="/admin")
    assert client.get("/admin/usage").status_code == 303
    client.delete_cookie(COOKIE, path="/admin")
    sign_in(client)
    console = session_cookie(client).value
    assert client.get("/api/v1/admin/keys", headers={"Authorization": f"Bearer {console}"}).status_code == 401


def test_cookie_flags_and_nothing_of_the_key_in_the_cookie(app):
    client = app.test_client()
    token = csrf_from(client.get("/admin/sign-in").text)
    response = client.post("/admin/sign-in", data={"csrf_token": token, "api_key": ADMIN_KEY})
    header = next(h for h in set_cookie_headers(response) if h.startswith(f"{COOKIE}="))
    attributes = [part.strip() for part in header.split(";")]
    assert "HttpOnly" in attributes and "SameSite=Strict" in attributes and "Path=/admin" in attributes
    assert "Secure" not in attributes  # plain HTTP here: a Secure cookie would never come back
    value = header.split(";")[0].split("=", 1)[1]
    payload = json.loads(base64.urlsafe_b64decode(value.split(".")[1] + "=="))
    assert set(payload) == {"sub", "type", "aud", "jti", "permissions", "auth_time", "iat", "exp"}
    assert payload["exp"] - payload["iat"] <= 900
    assert ADMIN_KEY not in value and ADMIN_KEY[:12] not in json.dumps(payload)
    for page in ("/admin/usage", "/admin/keys", "/admin/health"):
        assert ADMIN_KEY not in client.get(page).text


def test_the_cookie_is_secure_over_https(client):
    page = client.get("/admin/sign-in", base_url="https://localhost")
    token = csrf_from(page.text)
    assert "Secure" in set_cookie_headers(page)[0]
    response = client.post(
        "/admin/sign-in", data={"csrf_token": token, "api_key": ADMIN_KEY}, base_url="https://localhost"
    )
    assert response.status_code == 303
    header = next(h for h in set_cookie_headers(response) if h.startswith(f"{COOKIE}="))
    assert "Secure" in [part.strip() for part in header.split(";")]


def test_sign_out_ends_the_session_even_for_a_copy_of_the_cookie(client):
    csrf = sign_in(client)
    copied = session_cookie(client).value
    response = client.post("/admin/sign-out", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/sign-in")
    assert session_cookie(client) is None
    assert client.get("/admin/usage").status_code == 303
    client.set_cookie(COOKIE, copied, path="/admin")
    assert client.get("/admin/usage").status_code == 303


@pytest.mark.integration
def test_sign_out_reaches_every_instance_through_redis(make_app, redis_url, sqlite_url):
    first, second = make_app(redis={"url": redis_url}), make_app(sqlite_url, redis={"url": redis_url})
    browser = first.test_client()
    csrf = sign_in(browser)
    copied = session_cookie(browser).value
    other = second.test_client()
    other.set_cookie(COOKIE, copied, path="/admin")
    assert other.get("/admin/usage").status_code == 200  # one secret, one ledger: the session is good there too
    assert browser.post("/admin/sign-out", data={"csrf_token": csrf}).status_code == 303
    assert other.get("/admin/usage").status_code == 303


def test_a_revoked_admin_key_ends_its_sessions(app, client):
    sign_in(client)
    admin = next(row for row in app.extensions["llmgateway"].keystore.list() if row.owner == "Admin Team")
    other = app.test_client()
    csrf = sign_in(other)
    assert other.post(f"/admin/keys/{admin.id}/revoke", data={"csrf_token": csrf}).status_code == 303
    assert client.get("/admin/usage").status_code == 303


def test_no_page_reflects_unescaped_input(app, client):
    """A `<script>` owner, user, model or next parameter is shown as text; chart data cannot close its block."""
    evil = '<script>alert("x")</script>'
    csrf = sign_in(client)
    created = client.post("/admin/keys", data={"csrf_token": csrf, "owner": evil, "permissions": ["completion"]})
    assert created.status_code == 201
    rows = seed_usage(app)
    from llmgateway.infra.models import UsageRecord
    from tests.ledger.helpers import usage_row

    with app.extensions["llmgateway"].sessions.begin() as session:
        session.add(UsageRecord(**usage_row(created_at=rows[0]["created_at"], user=evil, model=evil, api_key_id=evil)))
    pages = [
        created.text,
        client.get("/admin/keys").text,
        client.get("/admin/usage").text,
        client.get(f"/admin/usage?start={evil}").text,
        client.get(f"/admin/sign-in?next={evil}").text,
    ]
    key_id = re.search(r'data-key-id="([^"]+)">\s*<th scope="row" class="owner">&lt;script&gt;', pages[1]).group(1)
    pages.append(client.get(f"/admin/keys/{key_id}/revoke").text)
    for page in pages:
        assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[1]
    assert "\\u003cscript\\u003e" in pages[2]  # inside the JSON block
    assert "&lt;script&gt;" in pages[5]


def test_next_never_leaves_the_console(client):
    for target in ("https://evil.example/", "//evil.example/", "/api/v1/admin/keys", "/admin/../x"):
        client.delete_cookie(COOKIE, path="/admin")
        token = csrf_from(client.get("/admin/sign-in").text)
        response = client.post(f"/admin/sign-in?next={target}", data={"csrf_token": token, "api_key": ADMIN_KEY})
        location = response.headers["Location"]
        assert location == "/admin/usage", (target, location)
    client.delete_cookie(COOKIE, path="/admin")
    token = csrf_from(client.get("/admin/sign-in").text)
    response = client.post(
        "/admin/sign-in?next=/admin/keys?revoked=1", data={"csrf_token": token, "api_key": ADMIN_KEY}
    )
    assert response.headers["Location"] == "/admin/keys?revoked=1"


def test_pages_carry_a_strict_content_security_policy(client):
    sign_in(client)
    for page in ("/admin/sign-in", "/admin/usage", "/admin/keys", "/admin/health"):
        response = client.get(page)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", response.text) is None  # no inline JS
        assert " style=" not in response.text


def test_console_routes_are_rate_limited_like_the_api(make_app):
    app = make_app(rate_limits={"enabled": True, "default": "8/minute"})
    client = app.test_client()
    sign_in(client)  # sign-in page, sign-in, keys page: limited by address, then by key
    statuses = [client.get("/admin/health").status_code for _ in range(10)]
    assert statuses.count(429) >= 2 and statuses[0] == 200
    refused = client.get("/admin/health")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "<h1>429</h1>" in refused.text


def test_sign_in_attempts_are_rate_limited_per_address(make_app):
    app = make_app(rate_limits={"enabled": True, "default": "5/minute"})
    client = app.test_client()
    token = csrf_from(client.get("/admin/sign-in").text)
    statuses = [
        client.post("/admin/sign-in", data={"csrf_token": token, "api_key": f"guess-{n}"}).status_code for n in range(6)
    ]
    assert statuses[:4] == [401] * 4 and statuses[-1] == 429
