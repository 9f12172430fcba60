"""The console's templates and assets ship in the package: a wheel built by pip, unpacked, renders every page."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Runs in a fresh interpreter that imports llmgateway from the unpacked wheel only (never the source tree).
RENDER = """
import re, sys
sys.path.insert(0, sys.argv[1])
import llmgateway, llmgateway.infra.schema as schema
assert llmgateway.__file__.startswith(sys.argv[1]), llmgateway.__file__
schema.MIGRATIONS_DIR = __import__("pathlib").Path(sys.argv[3])  # migrations ship as data files, not package data
from llmgateway import create_app
key = "packaged-admin-key-0123456789abcdef"
app = create_app({"database": {"url": "sqlite:///" + sys.argv[2]}, "secret_key": "p" * 40, "jwt": {"secret": "j" * 40},
                  "api_keys": [{"key": key, "owner": "Admin", "permissions": ["admin"]}],
                  "logging": {"level": "WARNING"}})
client = app.test_client()
token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/sign-in").text).group(1)
assert client.post("/admin/sign-in", data={"csrf_token": token, "api_key": key}).status_code == 303
for page in ("/admin/usage", "/admin/keys", "/admin/health"):
    response = client.get(page)
    assert response.status_code == 200 and "<h1>" in response.text, page
for asset in ("console.css", "console.js", "vendor/chartjs/chart.umd.min.js", "vendor/chartjs/LICENSE.md"):
    with client.get("/admin/static/" + asset) as response:
        assert response.status_code == 200 and response.data, asset
app.extensions["llmgateway"].close()
print("rendered from", llmgateway.__file__)
"""


def test_a_built_wheel_carries_and_renders_the_console(tmp_path):
    source = tmp_path / "src"  # a clean copy: a stale build/ directory in the checkout could hide a missing file
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "*.db*", "spool"
        ),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(tmp_path.glob("llmgateway-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    for name in (
        "templates/console/base.html",
        "templates/console/usage.html",
        "static/console.js",
        "static/vendor/chartjs/chart.umd.min.js",
        "static/vendor/chartjs/LICENSE.md",
        "static/vendor/chartjs/VERSION.md",
    ):
        assert f"llmgateway/api/console/{name}" in names, name
    rendered = subprocess.run(
        [sys.executable, "-c", RENDER, str(tmp_path / "site"), str(tmp_path / "ledger.db"), str(ROOT / "migrations")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    assert f"rendered from {tmp_path / 'site'}" in rendered.stdout
