"""One what-if run: record from the live database, replay in a fresh sandbox, report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from eum.db import reading
from eum.scenario import fresh_engine
from eum.whatif import report
from eum.whatif.replay import Draft, Period, Progress, record, replay


def whatif(
    live: Engine,
    draft: Draft,
    period: Period,
    *,
    sandbox_url: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replay ``period`` of the live database under ``draft`` in a sandbox (a temporary
    SQLite file unless ``sandbox_url`` names another; a PostgreSQL URL gets a schema of
    its own, dropped afterwards) and report. The live database is only read."""
    say = progress or (lambda _m: None)
    with reading(live) as conn:
        recorded = record(conn, period, draft)
    say(
        f"recorded {recorded.payments:,} payments and {recorded.refunds:,} refunds "
        f"from {period.first} to {period.last}"
    )
    with fresh_engine(sandbox_url) as sandbox:
        replayed = replay(recorded, sandbox, say)
        with reading(live) as live_conn, sandbox.connect() as sandbox_conn:
            return report.build(
                live_conn, sandbox_conn, recorded, replayed, draft.rules, draft.name
            )
