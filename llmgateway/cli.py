"""Flask CLI commands: `keys create|list|revoke`, `usage report|dead-letters`, `db upgrade`."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError

from llmgateway.config import MAX_TPM, PERMISSIONS, key_rules_problem, validate_rate_limit
from llmgateway.core.report_format import FIGURES, key_dict, report_csv, report_window
from llmgateway.infra.reports import GROUP_BY, usage_report
from llmgateway.infra.schema import upgrade_schema
from llmgateway.services import EXTENSION_KEY, Services


@with_appcontext
def _log_level(verbose: bool) -> None:
    """Commands log at `logging.cli_level` (warnings) on stderr; --verbose lowers that to `logging.level`."""
    if verbose:
        logging.getLogger().setLevel(_services().settings.logging.level)


def _group(name: str, help_text: str) -> AppGroup:
    verbose = click.Option(["--verbose", "-v"], is_flag=True, help="Also log informational messages (stderr).")
    return AppGroup(name, help=help_text, params=[verbose], callback=_log_level)


keys_cli = _group("keys", "Manage API keys.")
usage_cli = _group("usage", "Usage reports from the ledger.")
db_cli = _group("db", "Database schema.")


def _services() -> Services:
    return current_app.extensions[EXTENSION_KEY]


def _permissions(_ctx: Any, _param: Any, value: str) -> list[str]:
    chosen = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PERMISSIONS]
    if not chosen or unknown:
        raise click.BadParameter(f"choose from {', '.join(PERMISSIONS)}")
    return chosen


def _rate_limit(_ctx: Any, _param: Any, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        validate_rate_limit(value)
    except ValidationError as exc:
        raise click.BadParameter(str(exc.messages[0])) from exc
    return value


def _check_key_rules(**values: Any) -> None:
    """Apply the key rules of the config file and the admin API; name the option of the first problem."""
    problem = key_rules_problem(values)
    if problem is not None:
        field, message = problem
        name = (field or "").split(".")[0]
        option = {"expires_at": "--expires", "budget_usd": "--budget-usd"}.get(name, "--" + name.replace("_", "-"))
        raise click.BadParameter(message.replace("budget_usd", "--budget-usd"), param_hint=option)


@keys_cli.command("create")
@click.option("--owner", required=True, help="Who the key belongs to (a team, a service).")
@click.option("--permissions", required=True, callback=_permissions, help="Comma-separated: completion,embedding,admin")
@click.option("--rate-limit", callback=_rate_limit, help="Requests per window, e.g. 120/minute.")
@click.option("--tpm-limit", type=click.IntRange(min=1, max=MAX_TPM), help="Tokens per minute.")
@click.option("--budget-usd", type=click.FloatRange(min=0), help="Spend budget in USD per period.")
@click.option("--budget-period", type=click.Choice(["day", "month"]))
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="UTC expiry.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def create_key(
    owner: str,
    permissions: list[str],
    rate_limit: str | None,
    tpm_limit: int | None,
    budget_usd: float | None,
    budget_period: str | None,
    expires: datetime | None,
    as_json: bool,
) -> None:
    """Create a key and print it once."""
    _check_key_rules(
        owner=owner,
        permissions=permissions,
        rate_limit=rate_limit,
        tpm_limit=tpm_limit,
        budget_usd=budget_usd,
        budget_period=budget_period,
        expires_at=expires.replace(tzinfo=UTC).isoformat() if expires else None,
    )
    key, row = _services().keystore.create(
        owner=owner,
        permissions=permissions,
        rate_limit=rate_limit,
        tpm_limit=tpm_limit,
        budget_usd=budget_usd,
        budget_period=budget_period,
        expires_at=expires,
        source="cli",
    )
    if as_json:
        click.echo(json.dumps(key_dict(row, key)))
        return
    click.echo(f"id:          {row.id}")
    click.echo(f"owner:       {row.owner}")
    click.echo(f"permissions: {row.permissions}")
    click.echo(f"key:         {key}")
    click.echo("Store the key now: it is not shown again.", err=True)


@keys_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_keys(as_json: bool) -> None:
    """List keys (never the key or its hash)."""
    rows = [key_dict(row) for row in _services().keystore.list()]
    if as_json:
        click.echo(json.dumps({"data": rows}))
        return
    click.echo(f"{'id':36}  {'prefix':20}  {'owner':20}  {'permissions':28}  status")
    for row in rows:
        status = "revoked" if row["revoked_at"] else "active"
        click.echo(
            f"{row['id']:36}  {row['key_prefix']:20}  {row['owner'][:20]:20}  "
            f"{','.join(row['permissions']):28}  {status}"
        )


@keys_cli.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke a key by id."""
    if not _services().keystore.revoke(key_id):
        raise click.ClickException(f"no live key with id {key_id}")
    click.echo(f"revoked {key_id}")


@usage_cli.command("report")
@click.option(
    "--start",
    "start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Inclusive, UTC (default: the first of the end's month).",
)
@click.option("--end", "end", type=click.DateTime(formats=["%Y-%m-%d"]), help="Inclusive, UTC (default: today).")
@click.option("--group-by", type=click.Choice(GROUP_BY))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
def report(start: datetime | None, end: datetime | None, group_by: str | None, fmt: str) -> None:
    """Usage between two dates (inclusive; by default this month so far), optionally grouped."""
    first, last = report_window(start and start.date(), end and end.date(), datetime.now(UTC).date())
    try:
        data = usage_report(_services().sessions, first, last, group_by)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--end") from exc
    if fmt == "json":
        click.echo(json.dumps(data))
    elif fmt == "csv":
        click.echo(report_csv(data), nl=False)
    else:
        click.echo(_table(data))


@usage_cli.command("dead-letters")
@click.option("--json", "as_json", is_flag=True, help="One JSON document, each entry with its row.")
def dead_letters(as_json: bool) -> None:
    """Usage rows the database refused for their data (set aside so billing went on); fix and re-insert them."""
    store = _services().ledger.dead_letters
    entries = store.list()
    if as_json:
        click.echo(json.dumps({"data": entries, "file": str(store.path)}))
        return
    click.echo(f"{len(entries)} dead letter(s) (table usage_dead_letters; file {store.path})")
    for entry in entries:
        click.echo(f"{entry['failed_at']}  {entry['request_id']}  [{entry['stored_in']}]  {entry['error']}")


def _table(data: dict[str, Any]) -> str:
    header = ["key", *FIGURES]
    rows = [[str(g["key"]), *(str(g[f]) for f in FIGURES)] for g in data["groups"]]
    rows.append(["TOTAL", *(str(data["totals"][f]) for f in FIGURES)])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [f"usage {data['start_date']} .. {data['end_date']}"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(lines)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the ledger schema to the latest revision."""
    upgrade_schema(_services().settings.database.url)
    click.echo("database schema is up to date")
