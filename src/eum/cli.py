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
policy_app = typer.Typer(
    help="Cashback rules: export the live ones, try a draft (what-if).", no_args_is_help=True
)
app.add_typer(scenario_app, name="scenario")
app.add_typer(ledger_app, name="ledger")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(policy_app, name="policy")
report_app = typer.Typer(help="Reports issuers publish.", no_args_is_help=True)
app.add_typer(report_app, name="report")

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


@policy_app.command("rules")
def policy_rules(database: str | None = DatabaseOption) -> None:
    """Print the live, active rules as a draft file (YAML) to start a what-if from."""
    import yaml

    from eum.whatif.replay import live_rules

    with _engine(database).connect() as conn:
        doc = live_rules(conn)
    typer.echo(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


def _day_option(value: str | None, name: str):  # type: ignore[no-untyped-def]
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo(f"{name}: not a date (YYYY-MM-DD): {value}", err=True)
        raise typer.Exit(2) from None


@policy_app.command("whatif")
def policy_whatif(
    rules: Path = typer.Option(..., "--rules", help="Draft rules (YAML: rules, budgets)."),
    from_: str | None = typer.Option(
        None, "--from", help="First day (KST, YYYY-MM-DD); default: the 1st of last month."
    ),
    to: str | None = typer.Option(
        None, "--to", help="Last day (inclusive); default: the last day of --from's month."
    ),
    database: str | None = DatabaseOption,
    sandbox: str | None = typer.Option(
        None, "--sandbox", help="Sandbox database URL; a fresh temporary SQLite file by default."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
) -> None:
    """Replay the recorded payments of a period under a draft rule set in a sandbox
    database and report per rule and budget, next to what really happened."""
    from datetime import timedelta

    from eum.clock import kst_day, now
    from eum.scenario import ScenarioError
    from eum.whatif.replay import Period, load_draft
    from eum.whatif.report import text
    from eum.whatif.run import whatif

    try:
        draft = load_draft(rules)
    except ScenarioError as exc:
        typer.echo(f"invalid draft {rules}: {exc}", err=True)
        raise typer.Exit(2) from None
    first = _day_option(from_, "--from")
    if first is None:
        this_month = kst_day(now()).replace(day=1)
        first = (this_month - timedelta(days=1)).replace(day=1)
    last = _day_option(to, "--to")
    if last is None:
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        last = following - timedelta(days=1)
    if last < first:
        typer.echo("--to is before --from", err=True)
        raise typer.Exit(2)
    if first.day != 1:
        typer.echo("note: the period starts mid-month: monthly caps start empty", err=True)
    try:
        report = whatif(
            _engine(database),
            draft,
            Period(first, last),
            sandbox_url=sandbox,
            progress=lambda msg: typer.echo(msg, err=True),
        )
    except ScenarioError as exc:
        typer.echo(f"invalid draft {rules}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(text(report))
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


@report_app.command("monthly")
def report_monthly(
    month: str = typer.Option(..., "--month", help="KST month, YYYY-MM."),
    out: Path = typer.Option(..., "--out", help="HTML file to write (print it to PDF)."),
    issuer: str | None = typer.Option(None, "--issuer", help="Issuer; default: the platform."),
    lang: str = typer.Option("ko", "--lang", help="ko or en."),
    database: str | None = DatabaseOption,
) -> None:
    """Write an issuer's monthly report (members, issuance, payments, cashback against
    budgets, top categories, with charts) as one self-contained HTML page."""
    from eum.errors import EumError
    from eum.stats.report import write_report

    try:
        written = write_report(_engine(database), issuer, month, out, lang)
    except EumError as exc:
        typer.echo(f"{exc.field or 'report'}: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"report written to {written}")


@app.command("simulate")
def simulate_command(
    members: int = typer.Option(..., "--members", help="Members of the synthetic city."),
    days: int = typer.Option(..., "--days", help="Days to simulate (1..366)."),
    seed: int = typer.Option(1, "--seed", help="Seed: the same seed makes the same city."),
    rules: Path | None = typer.Option(
        None, "--rules", help="Draft rules (YAML: rules, budgets); default: the city's rules."
    ),
    database: str | None = typer.Option(
        None, "--database", help="Take the issuers and live rules from this database."
    ),
    from_: str | None = typer.Option(
        None, "--from", help="First day (KST, YYYY-MM-DD); default: the 1st of this month."
    ),
    merchants: int | None = typer.Option(
        None, "--merchants", help="Merchants; default: members / 50, at least 20."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
    sandbox: str | None = typer.Option(
        None, "--sandbox", help="Sandbox database URL; a fresh temporary SQLite file by default."
    ),
) -> None:
    """Generate a synthetic city (the Incheon demo's issuers and rules, or a live
    database's) and run its payments through the engine in a sandbox; report per rule
    and budget as the what-if replay does."""
    from eum.clock import kst_day, now
    from eum.scenario import ScenarioError
    from eum.whatif import simulate as sim
    from eum.whatif.replay import load_draft
    from eum.whatif.report import text

    def bad(message: str) -> typer.Exit:
        """Say what is wrong; the exit (code 2) to raise."""
        typer.echo(message, err=True)
        return typer.Exit(2)

    if not 1 <= members <= sim.MAX_MEMBERS:
        raise bad(f"--members: 1..{sim.MAX_MEMBERS:,}")
    if not 1 <= days <= sim.MAX_DAYS:
        raise bad(f"--days: 1..{sim.MAX_DAYS}")
    if members * days > sim.MAX_MEMBER_DAYS:
        raise bad(f"--members x --days: at most {sim.MAX_MEMBER_DAYS:,}")
    if merchants is not None and not 1 <= merchants <= sim.MAX_MERCHANTS:
        raise bad(f"--merchants: 1..{sim.MAX_MERCHANTS:,}")
    first = _day_option(from_, "--from") or kst_day(now()).replace(day=1)
    try:
        if database is not None:
            with _engine(database).connect() as conn:
                city = sim.live_city(conn, first)
        else:
            city = sim.demo_city()
        if rules is not None:
            city = sim.with_draft(city, load_draft(rules))
        report = sim.simulate(
            city,
            members=members,
            days=days,
            seed=seed,
            first=first,
            merchants=merchants,
            sandbox_url=sandbox,
            progress=lambda msg: typer.echo(msg, err=True),
        )
    except ScenarioError as exc:
        raise bad(f"invalid draft {rules or database or 'city'}: {exc}") from None
    typer.echo(sim.summary_text(report["city"]))
    typer.echo("")
    typer.echo(text(report))
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


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
