"""S1, S3, S4: keys stored only as peppered HMACs; JWTs pinned, expiring and revocable."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import time
import warnings

import jwt as pyjwt
from sqlalchemy import text

from llmgateway.core import keys as keys_module
from tests.conftest import ADMIN_KEY, COMPLETION_KEY, EMBEDDING_KEY, auth

JWT_SECRET = "test-jwt-secret-" + "y" * 40


def _token(client, key=COMPLETION_KEY):
    response = client.post("/api/v1/auth/token", headers=auth(key))
    assert response.status_code == 200
    return response.json["access_token"]


def test_tables_hold_no_plaintext_key_and_a_stored_hash_is_not_a_key(client, app):
    created = client.post(
        "/api/v1/admin/keys", json={"owner": "ops", "permissions": ["completion"]}, headers=auth(ADMIN_KEY)
    ).json
    svc = app.extensions["llmgateway"]
    with svc.engine.connect() as connection:
        dump = json.dumps([list(map(str, row)) for row in connection.execute(text("SELECT * FROM api_keys"))])
        stored_hash = connection.execute(
            text("SELECT key_hash FROM api_keys WHERE id = :id"), {"id": created["id"]}
        ).scalar_one()
    for secret in (created["key"], ADMIN_KEY, COMPLETION_KEY, EMBEDDING_KEY):
        assert secret not in dump
    assert len(stored_hash) == 64
    # The stored value is a peppered HMAC, not a bare SHA-256 of the key.
    assert stored_hash != hashlib.sha256(created["key"].encode()).hexdigest()
    assert client.get("/api/v1/models", headers=auth(stored_hash)).status_code == 401
    assert client.get("/api/v1/models", headers=auth(created["key"])).status_code == 200


def test_generated_keys_have_a_public_prefix_and_256_bit_secret(client):
    created = client.post(
        "/api/v1/admin/keys", json={"owner": "ops", "permissions": ["embedding"]}, headers=auth(ADMIN_KEY)
    ).json
    key = created["key"]
    assert key.startswith(created["key_prefix"] + "_")
    secret = key.split("_", 2)[2]
    assert len(base64.urlsafe_b64decode(secret + "=")) >= 32
    listed = client.get("/api/v1/admin/keys", headers=auth(ADMIN_KEY)).json["data"]
    assert all("key" not in row and "key_hash" not in row for row in listed)


def test_secrets_are_compared_in_constant_time():
    source = inspect.getsource(keys_module.KeyHasher.matches)
    assert "hmac.compare_digest" in source


def test_jwt_works_and_carries_the_keys_permissions(client):
    token = _token(client, COMPLETION_KEY)
    claims = pyjwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert claims["permissions"] == ["completion"] and "exp" in claims
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/models", headers=bearer).status_code == 200
    assert client.get("/api/v1/admin/keys", headers=bearer).status_code == 403


def test_token_exchange_accepts_key_in_body_and_rejects_bad_keys(client):
    assert client.post("/api/v1/auth/token", json={"api_key": ADMIN_KEY}).status_code == 200
    response = client.post("/api/v1/auth/token", json={"api_key": "gw_nope_nope"})
    assert response.status_code == 401 and response.json["error"]["code"] == "invalid_api_key"
    assert client.post("/api/v1/auth/token").json["error"]["code"] == "authentication_required"
    assert client.post("/api/v1/auth/token", json={"api_key": ADMIN_KEY, "x": 1}).status_code == 400


def _forge(claims, key, alg="HS256"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short key for HS512 is part of the attack
        return pyjwt.encode(claims, key, algorithm=alg)


def test_jwt_attacks_are_rejected(client):
    good = pyjwt.decode(_token(client, ADMIN_KEY), JWT_SECRET, algorithms=["HS256"])
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(good).encode()).rstrip(b"=").decode()
    attacks = {
        "alg none": f"{header}.{body}.",
        "wrong secret": _forge(good, "another-secret-" + "z" * 40),
        "HS512 with the right secret": _forge(good, JWT_SECRET, "HS512"),
        "expired": _forge({**good, "exp": int(time.time()) - 10}, JWT_SECRET),
        "no exp": _forge({k: v for k, v in good.items() if k != "exp"}, JWT_SECRET),
        "unknown subject": _forge({**good, "sub": "00000000-0000-0000-0000-000000000000"}, JWT_SECRET),
        "garbage": "a.b.c",
    }
    for name, token in attacks.items():
        response = client.get("/api/v1/models", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json["error"]["code"] == "invalid_token", name


def test_jwt_cannot_widen_its_keys_permissions(client, app):
    good = pyjwt.decode(_token(client, COMPLETION_KEY), JWT_SECRET, algorithms=["HS256"])
    widened = _forge({**good, "permissions": ["admin"]}, JWT_SECRET)
    response = client.get("/api/v1/admin/keys", headers={"Authorization": f"Bearer {widened}"})
    assert response.status_code == 403


def test_revoked_key_and_its_jwts_stop_working(client, app):
    created = client.post(
        "/api/v1/admin/keys", json={"owner": "tmp", "permissions": ["completion"]}, headers=auth(ADMIN_KEY)
    ).json
    token = _token(client, created["key"])
    assert client.get("/api/v1/models", headers=auth(created["key"])).status_code == 200

    assert client.delete(f"/api/v1/admin/keys/{created['id']}", headers=auth(ADMIN_KEY)).status_code == 204

    assert client.get("/api/v1/models", headers=auth(created["key"])).status_code == 401
    assert client.get("/api/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.delete(f"/api/v1/admin/keys/{created['id']}", headers=auth(ADMIN_KEY)).status_code == 404


def test_revocation_elsewhere_bites_within_the_cache_ttl(make_app, sqlite_url):
    """Two app instances share one database: a key revoked through one fails on the other within seconds."""
    first = make_app()
    second = make_app(server={"auth_cache_ttl": 1.0})
    created = (
        first.test_client()
        .post("/api/v1/admin/keys", json={"owner": "x", "permissions": ["completion"]}, headers=auth(ADMIN_KEY))
        .json
    )
    other = second.test_client()
    assert other.get("/api/v1/models", headers=auth(created["key"])).status_code == 200
    first.test_client().delete(f"/api/v1/admin/keys/{created['id']}", headers=auth(ADMIN_KEY))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if other.get("/api/v1/models", headers=auth(created["key"])).status_code == 401:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("revoked key still accepted after 5 s")


def test_expired_key_is_rejected(client):
    created = client.post(
        "/api/v1/admin/keys",
        json={"owner": "tmp", "permissions": ["completion"], "expires_at": "2020-01-01T00:00:00Z"},
        headers=auth(ADMIN_KEY),
    ).json
    assert client.get("/api/v1/models", headers=auth(created["key"])).status_code == 401


def test_bearer_api_key_works_like_x_api_key(client):
    assert client.get("/api/v1/models", headers={"Authorization": f"Bearer {COMPLETION_KEY}"}).status_code == 200
    response = client.get("/api/v1/models", headers={"Authorization": "Bearer gw_unknown"})
    assert response.status_code == 401 and response.json["error"]["code"] == "invalid_api_key"
