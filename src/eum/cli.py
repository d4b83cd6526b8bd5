"""The ``eum`` command: thin wrappers that parse arguments and call one service each.

Exit codes: 0 success, 1 a check failed (scenario mismatch, unbalanced ledger),
2 bad input (an invalid scenario file, a bad option).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from eum.config import settings

if TYPE_CHECKING:
    from eum.ledger.service import Verification

app = typer.Typer(
    help="Eum: regional electronic currency platform (지역사랑상품권).", no_args_is_help=True
)
scenario_app = typer.Typer(help="Conformance scenarios (SPEC section 5).", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="The Incheon demo city.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(ledger_app, name="ledger")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")

DatabaseOption = typer.Option(None, "--database", help="Database URL (default: EUM_DATABASE_URL).")


def _engine(database: str | None):  # type: ignore[no-untyped-def]
    from eum.db import make_engine

    return make_engine(database or settings().database_url)


@scenario_app.command("run")
def scenario_run(
    file: Path = typer.Argument(..., help="Scenario YAML file."),
    database: str | None = typer.Option(
        None, "--database", help="Database URL; a fresh temporary SQLite file by default."
    ),
) -> None:
    """Run a scenario on a fresh platform and print the final state as JSON."""
    from eum.scenario import ScenarioError, differences, execute, fresh_engine, load

    try:
        scenario = load(file)
    except ScenarioError as exc:
        typer.echo(f"invalid scenario {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        with fresh_engine(database) as engine:
            state = execute(scenario, engine)
    except ScenarioError as exc:
        typer.echo(f"invalid scenario {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(state, ensure_ascii=False, indent=2, sort_keys=True))
    if scenario.expect is not None:
        diffs = differences(scenario.expect, state)
        if diffs:
            typer.echo(f"{len(diffs)} difference(s) from expect:", err=True)
            for line in diffs:
                typer.echo(f"  {line}", err=True)
            raise typer.Exit(1)


def _report(result: Verification) -> None:
    """Print a ledger verification (``eum.ledger.service.verify``); exit 1 unless it
    balances."""
    typer.echo(
        f"accounts: {result.accounts_checked}, entries: {result.entries_checked}, "
        f"postings total: {result.postings_total_krw}"
    )
    if not result.ok:
        for line in result.mismatches:
            typer.echo(f"MISMATCH {line}")
        typer.echo("ledger: NOT balanced")
        raise typer.Exit(1)
    typer.echo("ledger: balanced; every balance equals its postings")


@ledger_app.command("verify")
def ledger_verify(database: str | None = DatabaseOption) -> None:
    """Recompute every balance from the postings; exit 1 with a report on any difference."""
    from eum.ledger.service import verify

    engine = _engine(database)
    with engine.connect() as conn:
        result = verify(conn)
    _report(result)


@db_app.command("upgrade")
def db_upgrade(database: str | None = DatabaseOption) -> None:
    """Create or migrate the schema to the newest version."""
    from eum.migrate import upgrade

    upgrade(_engine(database))
    typer.echo("schema is up to date")


@demo_app.command("load")
def demo_load(
    database: str | None = DatabaseOption,
    seed: int = typer.Option(2020, "--seed", help="Seed of the demo's random choices."),
    if_empty: bool = typer.Option(
        False, "--if-empty", help="Do nothing when the database has data."
    ),
) -> None:
    """Build the Incheon demo (인천e음 and its districts) through the services."""
    from eum.demo import is_empty, load
    from eum.migrate import upgrade

    engine = _engine(database)
    upgrade(engine)
    if if_empty and not is_empty(engine):
        typer.echo("database already has data: demo not loaded")
        return
    if not is_empty(engine):
        typer.echo("the database is not empty: the demo loads only into an empty one", err=True)
        raise typer.Exit(2)
    report = load(engine, seed=seed, progress=lambda msg: typer.echo(msg, err=True))
    typer.echo(json.dumps(report, ensure_ascii=False))


@app.command("backup")
def backup_command(
    dest: Path = typer.Argument(..., help="File to write the backup to (replaced atomically)."),
    database: str | None = DatabaseOption,
) -> None:
    """Write a consistent backup while the server runs (SQLite backup API, or pg_dump)."""
    from eum.ops.backup import BackupError, backup

    try:
        report = backup(database or settings().database_url, dest)
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(
        f"wrote {report.path} ({report.backend}): {report.size_bytes:,} bytes, "
        f"{report.tables} tables, {report.payments} payments"
    )


@app.command("restore")
def restore_command(
    src: Path = typer.Argument(..., help="A file written by `eum backup`."),
    database: str | None = DatabaseOption,
) -> None:
    """Restore a backup into an empty database, then verify its ledger (exit 1 if unbalanced)."""
    from eum.ops.backup import BackupError, restore

    try:
        report = restore(src, database or settings().database_url)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(
        f"restored {report.path} ({report.backend}): {report.tables} tables, "
        f"{report.payments} payments"
    )
    result = report.verification
    _report(result)


@app.command("serve")
def serve(
    host: str = typer.Option(None, help="Address to listen on (default EUM_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default EUM_PORT or 8000)."),
) -> None:
    """Serve the API and web pages (refused outside demo mode without EUM_SECRET_KEY)."""
    import uvicorn

    cfg = settings()
    try:
        cfg.signing_key()
    except RuntimeError as exc:
        typer.echo(
            f"eum serve: {exc}: the server key signs QR payloads and form tokens, and "
            "the built-in demo key is public (set a long random EUM_SECRET_KEY)",
            err=True,
        )
        raise typer.Exit(2) from None
    uvicorn.run(
        "eum.api.app:create_app", factory=True, host=host or cfg.host, port=port or cfg.port
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
