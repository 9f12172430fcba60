"""The console in a real browser (Debian's Chromium through Selenium) against the gateway on 127.0.0.1: sign in, the
usage chart equals the API's report, change the range, export CSV, create a key and use it, revoke it, sign out."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import ADMIN_KEY, CHAT, auth
from tests.console.helpers import seed_usage

DAY_CHART = "return Chart.getChart(document.getElementById('day-chart')).data"


def wait_for(driver, condition, seconds: float = 10):
    return WebDriverWait(driver, seconds).until(condition)


def api_report(base: str, start: str, end: str, group_by: str) -> dict:
    response = requests.get(
        f"{base}/api/v1/admin/usage",
        params={"startDate": start, "endDate": end, "groupBy": group_by},
        headers=auth(ADMIN_KEY),
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


def assert_chart_equals_report(driver, base: str, start: str, end: str) -> None:
    chart = driver.execute_script(DAY_CHART)
    report = api_report(base, start, end, "day")
    by_day = {group["key"]: group["requests"] for group in report["groups"]}
    assert chart["labels"][0] == start and chart["labels"][-1] == end
    assert chart["datasets"][0]["data"] == [by_day.get(day, 0) for day in chart["labels"]]
    assert sum(chart["datasets"][0]["data"]) == report["totals"]["requests"]


def wait_for_download(folder: Path, seconds: float = 10) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == ".csv"]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no CSV downloaded into {folder}: {list(folder.iterdir())}")


def test_the_console_scenario_in_chromium(app, live_server, browser, fake_openai, tmp_path):
    seed_usage(app)
    driver, base = browser.driver, live_server.url
    today = datetime.now(UTC).date()

    # Sign in (a protected page sends the browser to the sign-in form first).
    driver.get(f"{base}/admin/usage")
    wait_for(driver, ec.presence_of_element_located((By.ID, "api_key")))
    assert "/admin/sign-in" in driver.current_url
    browser.shot("sign-in")
    assert driver.switch_to.active_element.get_attribute("id") == "api_key"  # the form is ready to type into
    driver.find_element(By.ID, "api_key").send_keys(ADMIN_KEY)
    driver.find_element(By.ID, "api_key").send_keys(Keys.ENTER)
    wait_for(driver, ec.presence_of_element_located((By.ID, "day-chart")))
    wait_for(driver, lambda d: d.execute_script("return !!Chart.getChart(document.getElementById('day-chart'))"))
    browser.shot("usage")
    ActionChains(driver).send_keys(Keys.TAB).perform()  # the keyboard's first stop is the skip link
    assert driver.switch_to.active_element.get_attribute("class") == "skip-link"
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_for(driver, lambda d: d.switch_to.active_element.get_attribute("id") == "main")

    # Nothing of the key in the browser: HttpOnly cookie, empty storage, not in the page.
    cookies = {cookie["name"]: cookie for cookie in driver.get_cookies()}
    session = cookies["llmgw_console"]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict" and session["path"] == "/admin"
    assert all(ADMIN_KEY not in cookie["value"] for cookie in cookies.values())
    assert driver.execute_script("return document.cookie") == ""
    assert driver.execute_script("return window.localStorage.length + window.sessionStorage.length") == 0
    assert ADMIN_KEY not in driver.page_source

    # The chart shows the API's numbers for the default range (the last 30 days).
    start, end = (today - timedelta(days=29)).isoformat(), today.isoformat()
    assert_chart_equals_report(driver, base, start, end)
    model_chart = driver.execute_script("return Chart.getChart(document.getElementById('chart-model')).data")
    models = api_report(base, start, end, "model")["groups"]
    assert sorted(model_chart["labels"]) == sorted(g["key"] for g in models)
    assert dict(zip(model_chart["labels"], model_chart["datasets"][0]["data"], strict=True)) == {
        g["key"]: g["cost_usd"] for g in models
    }

    # Another metric, then another range.
    driver.find_element(By.ID, "day-metric").send_keys("Cost")
    wait_for(driver, lambda d: d.execute_script(DAY_CHART)["datasets"][0]["label"] == "Cost (USD)")
    chart = driver.execute_script(DAY_CHART)
    costs = {group["key"]: group["cost_usd"] for group in api_report(base, start, end, "day")["groups"]}
    assert chart["datasets"][0]["data"] == [costs.get(day, 0) for day in chart["labels"]]
    start, end = (today - timedelta(days=13)).isoformat(), (today - timedelta(days=1)).isoformat()
    driver.execute_script(
        "document.getElementById('start').value = arguments[0];document.getElementById('end').value = arguments[1];",
        start,
        end,
    )
    driver.find_element(By.ID, "apply-range").click()
    wait_for(driver, lambda d: f"start={start}" in d.current_url)
    wait_for(driver, lambda d: d.execute_script("return !!Chart.getChart(document.getElementById('day-chart'))"))
    assert_chart_equals_report(driver, base, start, end)
    assert len(driver.execute_script(DAY_CHART)["labels"]) == 13
    browser.shot("usage-range")

    # Export CSV: the file the browser saves is the API's CSV for that range.
    driver.find_element(By.ID, "csv-model").click()
    saved = wait_for_download(tmp_path / "downloads")
    api_csv = requests.get(
        f"{base}/api/v1/admin/usage",
        headers=auth(ADMIN_KEY),
        timeout=10,
        params={"startDate": start, "endDate": end, "groupBy": "model", "format": "csv"},
    ).text
    assert saved.name == f"usage-model-{start}-{end}.csv"
    assert saved.read_text() == api_csv

    # Create a key; it is shown once, with a copy button; it works against /v1/chat/completions.
    driver.find_element(By.LINK_TEXT, "Keys").click()
    wait_for(driver, ec.presence_of_element_located((By.ID, "owner")))
    browser.shot("keys")
    driver.find_element(By.ID, "owner").send_keys("Browser Team")
    driver.find_element(By.ID, "create-key-button").click()
    field = wait_for(driver, ec.presence_of_element_located((By.ID, "new-key")))
    key = field.get_attribute("value")
    browser.shot("key-created")
    driver.find_element(By.ID, "copy-key").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "copy-status").text != "")
    assert driver.execute_script("return window.localStorage.length + window.sessionStorage.length") == 0
    chat = requests.post(
        f"{base}/v1/chat/completions",
        json={**CHAT, "model": "gpt-4o-mini"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert chat.status_code == 200, chat.text

    # Revoke it, with a confirmation; it is refused from then on.
    driver.find_element(By.ID, "back-to-keys").click()
    revoke = wait_for(
        driver, ec.element_to_be_clickable((By.CSS_SELECTOR, "a[aria-label^='Revoke the key of Browser Team']"))
    )
    revoke.click()
    wait_for(driver, ec.presence_of_element_located((By.ID, "confirm-revoke")))
    assert driver.find_element(By.ID, "revoke-owner").text == "Browser Team"
    browser.shot("revoke-confirm")
    driver.find_element(By.ID, "confirm-revoke").click()
    wait_for(driver, ec.presence_of_element_located((By.ID, "revoked-notice")))
    refused = requests.post(
        f"{base}/v1/chat/completions",
        json={**CHAT, "model": "gpt-4o-mini"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert refused.status_code == 401

    # Health, then sign out: the console is closed again.
    driver.find_element(By.LINK_TEXT, "Health").click()
    wait_for(driver, ec.presence_of_element_located((By.ID, "breakers-heading")))
    browser.shot("health")
    driver.find_element(By.ID, "sign-out").click()
    wait_for(driver, ec.presence_of_element_located((By.ID, "api_key")))
    assert "llmgw_console" not in {cookie["name"] for cookie in driver.get_cookies()}
    assert browser.errors() == []  # no script error, no Content-Security-Policy violation on any page
    driver.get(f"{base}/admin/keys")
    wait_for(driver, ec.presence_of_element_located((By.ID, "api_key")))
    assert "/admin/sign-in" in driver.current_url


def test_pages_fit_a_phone_screen(app, live_server, browser):
    """Readable on a phone: no page scrolls sideways at 390 px (wide tables scroll inside their own box)."""
    seed_usage(app)
    driver, base = browser.driver, live_server.url
    driver.set_window_size(390, 844)
    driver.get(f"{base}/admin/sign-in")
    driver.find_element(By.ID, "api_key").send_keys(ADMIN_KEY + Keys.ENTER)
    wait_for(driver, ec.presence_of_element_located((By.ID, "day-chart")))
    for page in ("usage", "keys", "health"):
        driver.get(f"{base}/admin/{page}")
        wait_for(driver, ec.presence_of_element_located((By.TAG_NAME, "h1")))
        browser.shot(f"phone-{page}")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (page, overflow)


#: For every visible element with its own text: its colour's contrast against the first opaque background behind it.
CONTRAST = """
function lum(c) {
  const v = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(x => x / 255)
             .map(x => x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4));
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function opaque(c) { const m = c.match(/[\\d.]+/g); return m && (m.length < 4 || Number(m[3]) === 1); }
function background(el) {
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const bg = getComputedStyle(node).backgroundColor;
    if (opaque(bg) && !/^rgba?\\(0, 0, 0, 0\\)$/.test(bg)) { return bg; }
  }
  return "rgb(255, 255, 255)";
}
const failures = [];
for (const el of document.querySelectorAll("body *")) {
  const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
  const style = getComputedStyle(el);
  if (!own || style.visibility === "hidden" || el.getClientRects().length === 0) { continue; }
  const a = lum(style.color), b = lum(background(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < needed) {
    failures.push(el.tagName + " '" + el.textContent.trim().slice(0, 30) + "' " + ratio.toFixed(2));
  }
}
return failures;
"""

UNLABELLED = """
return Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea, button"))
  .filter(el => el.getClientRects().length > 0)
  .filter(el => el.tagName === "BUTTON" ? !el.textContent.trim() && !el.getAttribute("aria-label")
                                          : el.labels.length === 0 && !el.getAttribute("aria-label"))
  .map(el => el.outerHTML.slice(0, 80));
"""


def test_pages_have_labels_contrast_and_work_from_the_keyboard(app, live_server, browser):
    seed_usage(app)
    driver, base = browser.driver, live_server.url
    driver.get(f"{base}/admin/sign-in")
    wait_for(driver, ec.presence_of_element_located((By.ID, "api_key")))
    assert driver.execute_script("return document.documentElement.lang") == "en"
    assert driver.execute_script(UNLABELLED) == [] and driver.execute_script(CONTRAST) == []
    ActionChains(driver).send_keys(ADMIN_KEY + Keys.ENTER).perform()  # the key field has the focus
    wait_for(driver, ec.presence_of_element_located((By.ID, "day-chart")))
    for page in ("usage", "keys", "health"):
        driver.get(f"{base}/admin/{page}")
        wait_for(driver, ec.presence_of_element_located((By.TAG_NAME, "h1")))
        assert driver.execute_script(UNLABELLED) == [], page
        assert driver.execute_script(CONTRAST) == [], page
        assert driver.execute_script("return document.querySelectorAll('canvas:not([aria-label])').length") == 0
    # Create a key with the keyboard alone: tab to the owner field, type, Enter submits the form.
    driver.get(f"{base}/admin/keys")
    wait_for(driver, ec.presence_of_element_located((By.ID, "owner")))
    for _ in range(80):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        if driver.switch_to.active_element.get_attribute("id") == "owner":
            break
    assert driver.switch_to.active_element.get_attribute("id") == "owner"
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    ActionChains(driver).send_keys("Keyboard Team" + Keys.ENTER).perform()
    field = wait_for(driver, ec.presence_of_element_located((By.ID, "new-key")))
    assert field.get_attribute("value").startswith("gw_")
    assert driver.execute_script(CONTRAST) == []
