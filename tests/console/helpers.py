"""Console test helpers: sign in through the form, read CSRF tokens, seed the ledger with known records."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from llmgateway.infra.models import UsageRecord
from tests.conftest import ADMIN_KEY
from tests.ledger.helpers import usage_row

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_from(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: FlaskClient, key: str = ADMIN_KEY) -> str:
    """Sign in through the form; returns the session's CSRF token (from the usage page's sign-out form)."""
    token = csrf_from(client.get("/admin/sign-in").text)
    response = client.post("/admin/sign-in", data={"csrf_token": token, "api_key": key})
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/admin/keys").text)


def seed_usage(app: Flask, today: date | None = None) -> list[dict[str, Any]]:
    """Records on five of the last 30 days over three models, two providers, two keys and users; one cached hit,
    one upstream error and one record from 40 days ago (outside the default range)."""
    today = today or datetime.now(UTC).date()
    rows = []
    plan = [
        (0, "openai.gpt-4o", "openai", "key-a", "Team A", "alice", 100, 50, 0.0012, 0.0, 200, False),
        (0, "openai.gpt-4o", "openai", "key-a", "Team A", "alice", 10, 5, 0.0, 0.00012, 200, True),
        (1, "openai.gpt-4o-mini", "openai", "key-b", "Team B", None, 300, 200, 0.00042, 0.0, 200, False),
        (3, "anthropic.claude-3-haiku", "anthropic", "key-a", "Team A", "bob", 1000, 400, 0.0075, 0.0, 200, False),
        (3, "anthropic.claude-3-haiku", "anthropic", "key-b", "Team B", None, 20, 0, 0.0, 0.0, 502, False),
        (12, "openai.gpt-4o", "openai", "key-b", "Team B", "carol", 7000, 3000, 0.0475, 0.0, 200, False),
        (29, "openai.gpt-4o-mini", "openai", "key-a", "Team A", "alice", 4000, 1000, 0.0012, 0.0, 200, False),
        (40, "openai.gpt-4o", "openai", "key-a", "Team A", "alice", 99, 1, 0.5, 0.0, 200, False),
    ]
    for days_ago, model, provider, key, owner, user, prompt, completion, cost, saved, status, cached in plan:
        moment = datetime.combine(today - timedelta(days=days_ago), datetime.min.time()) + timedelta(hours=10)
        rows.append(
            usage_row(
                created_at=moment,
                model=model,
                provider=provider,
                api_key_id=key,
                owner=owner,
                user=user,
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                cost_usd=cost,
                saved_cost_usd=saved,
                status_code=status,
                cached=cached,
            )
        )
    with app.extensions["llmgateway"].sessions.begin() as session:
        session.add_all(UsageRecord(**row) for row in rows)
    return rows
