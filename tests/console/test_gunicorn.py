"""The console under gunicorn's gevent workers (2, new connection per request): the session cookie works on
whichever worker answers, pages and assets render, the CSV downloads, and sign-out ends the session."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import ADMIN_KEY, base_config
from tests.gunicorn_runner import GunicornGateway

pytestmark = pytest.mark.slow


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_console_under_gunicorn_gevent_workers(tmp_path, fake_openai):
    config = base_config(
        f"sqlite:///{tmp_path / 'ledger.db'}", fake_openai.url, ledger={"spool_dir": str(tmp_path / "spool")}
    )
    with GunicornGateway(tmp_path, config, workers=2, env={"GUNICORN_LOG_LEVEL": "warning"}) as gateway:
        browser = requests.Session()
        browser.headers["Connection"] = "close"  # a new connection each time: any worker may take it
        base = gateway.url
        token = csrf(browser.get(f"{base}/admin/sign-in", timeout=10).text)
        signed_in = browser.post(
            f"{base}/admin/sign-in", data={"csrf_token": token, "api_key": ADMIN_KEY}, allow_redirects=False, timeout=10
        )
        assert signed_in.status_code == 303
        pages = [browser.get(f"{base}/admin/{page}", timeout=10) for page in ("usage", "keys", "health") * 4]
        assert all(page.status_code == 200 and "<h1>" in page.text for page in pages)
        chart = browser.get(f"{base}/admin/static/vendor/chartjs/chart.umd.min.js", timeout=10)
        assert chart.status_code == 200 and len(chart.content) > 100_000
        exported = browser.get(f"{base}/admin/usage.csv?by=model", timeout=10)
        assert exported.status_code == 200 and exported.text.startswith("key,requests,")
        session_token = csrf(pages[0].text)
        assert (
            browser.post(
                f"{base}/admin/sign-out", data={"csrf_token": session_token}, allow_redirects=False, timeout=10
            ).status_code
            == 303
        )
        assert browser.get(f"{base}/admin/usage", allow_redirects=False, timeout=10).status_code == 303
    assert "Traceback" not in gateway.log()
