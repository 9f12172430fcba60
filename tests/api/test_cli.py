"""The real `flask --app llmgateway` command line: stdout carries only the command's output, logs go to stderr
at warning level unless asked for, and `usage report` defaults to the admin API's window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest


def flask_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "llmgateway", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_help_prints_only_the_help(tmp_path):
    shown = flask_cli(tmp_path, "usage", "--help")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Usage: ") and "report" in shown.stdout
    assert "{" not in shown.stdout  # no JSON log line
    # a fresh database: the schema is created and the first admin key made, neither on stdout
    log_levels = [json.loads(line)["level"] for line in shown.stderr.splitlines() if line.startswith("{")]
    assert log_levels == ["warning"]  # "created the first admin API key", nothing from Alembic
    assert "created the first admin API key (shown once): gw_" in shown.stderr


@pytest.mark.slow
def test_json_output_is_one_document_and_verbose_logs_go_to_stderr(tmp_path):
    created = flask_cli(tmp_path, "keys", "create", "--owner", "cli", "--permissions", "completion", "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["owner"] == "cli"  # nothing else on stdout, even on a fresh database

    quiet = flask_cli(tmp_path, "db", "upgrade")
    assert quiet.stdout == "database schema is up to date\n" and quiet.stderr == ""
    verbose = flask_cli(tmp_path, "db", "--verbose", "upgrade")
    assert verbose.stdout == "database schema is up to date\n"
    assert '"logger":"alembic' in verbose.stderr  # Alembic's lines, on stderr, when asked for
    startup = flask_cli(tmp_path, "db", "upgrade", env={"LLMGATEWAY_CLI_LOG_LEVEL": "INFO"})
    assert startup.stdout == "database schema is up to date\n" and '"level":"info"' in startup.stderr


@pytest.mark.slow
def test_usage_report_defaults_to_the_admin_apis_window(tmp_path):
    today = datetime.now(UTC).date()
    report = flask_cli(tmp_path, "usage", "report", "--format", "json")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert (data["start_date"], data["end_date"]) == (today.replace(day=1).isoformat(), today.isoformat())
    ended = json.loads(flask_cli(tmp_path, "usage", "report", "--end", "2026-02-14", "--format", "json").stdout)
    assert (ended["start_date"], ended["end_date"]) == ("2026-02-01", "2026-02-14")
