"""Console fixtures: the gateway as a real HTTP server on 127.0.0.1, and Debian's Chromium driven by Selenium."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import service_missing

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Keep each phase's report on the item, so a fixture can tell in its teardown that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class LiveServer:
    """A Flask app served by werkzeug's threaded server on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


class Browser:
    """A headless Chromium session that writes a screenshot of every page it is asked to record."""

    def __init__(self, driver: Any, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        self.taken: list[Path] = []

    def errors(self) -> list[str]:
        """The page's console errors so far (script errors, Content-Security-Policy violations, failed loads)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
        ]

    def shot(self, name: str) -> Path:
        """The whole page (the window grown to the page's height for the picture, then put back)."""
        path = self.shots / f"{len(self.taken) + 1:02d}-{name}.png"
        size = self.driver.get_window_size()
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(size["width"], min(max(size["height"], height + 140), 8000))
        try:
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(size["width"], size["height"])
        self.taken.append(path)
        return path


@pytest.fixture
def browser(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """Debian's chromium + chromium-driver with explicit paths: Selenium Manager is never asked for anything."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        service_missing(
            "Chromium", FileNotFoundError(f"{CHROMIUM} / {CHROMEDRIVER} (apt-get install chromium chromium-driver)")
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # belt and braces: Selenium Manager may not download in any case
    downloads = tmp_path / "downloads"
    shots = tmp_path / "screenshots"
    downloads.mkdir()
    shots.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--window-size=1280,900",
        "--lang=en-US",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors, CSP violations
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(
        service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")), options=options
    )
    driver.set_page_load_timeout(30)
    session = Browser(driver, shots)
    try:
        yield session
    finally:
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            try:
                session.shot("at-failure")
            except Exception:
                pass
            print(f"\nscreenshots of each page: {shots}")
        driver.quit()
