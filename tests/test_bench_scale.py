"""The benchmark's store filler: payments generated as booking would book them, then
repeated with shifted ids, leave counters equal to a recount of what is stored."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from eum.payments.store import payments
from eum.stats import rollups
from tests.conftest import PG_URL

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_a_repeated_store_keeps_its_counters_exact(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import scale_bench  # type: ignore[import-not-found]
    from city import city  # type: ignore[import-not-found]

    url = None if backend == "sqlite" else PG_URL
    monkeypatch.setattr(scale_bench, "DISTINCT_MAX", 3_000)
    with city(url, 500, 50) as c:
        out = scale_bench.load_payments(c, 9_000, progress=lambda _m: None)
        assert (out["copies"], out["generated"], out["payments"]) == (3, 3_000, 9_000)
        with c.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(payments)).scalar_one() == 9_000
            assert rollups.stored(conn) == rollups.recount(conn)
    sys.modules.pop("scale_bench", None)
    sys.modules.pop("city", None)
