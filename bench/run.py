"""`make bench`: every figure of the Performance issue in one run, on SQLite and
PostgreSQL, printed as a table and written to bench/results/<date>.json (and .md).

    python bench/run.py            # the full run (about 20-30 minutes on 2 cores)
    python bench/run.py --quick    # small sizes, to check the machinery in a minute or two

Figures: engine payments/s (spread over 1,000 merchants, and the hot spot: one merchant
and its budgets), HTTP payments/s with p50/p99 at 64 connections, the server's peak
memory, pgbench TPC-B on the same PostgreSQL, and dashboard queries with 10 million
payments stored.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine_bench  # noqa: E402
import http_bench  # noqa: E402
import pgbench_ref  # noqa: E402
import scale_bench  # noqa: E402
from city import city  # noqa: E402

PG_URL = os.environ.get("EUM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

FULL = {
    "members": 100_000,
    "merchants": 1_000,
    "engine_payments": 60_000,
    "http_seconds": 30.0,
    "connections": 64,
    "tokens": 1_000,  # members paying over HTTP: enough money for the whole run
    "scale_payments": 10_000_000,
    "pgbench_seconds": 30,
}
QUICK = {
    "members": 5_000,
    "merchants": 1_000,
    "engine_payments": 5_000,
    "http_seconds": 5.0,
    "connections": 64,
    "tokens": 256,
    "scale_payments": 200_000,
    "pgbench_seconds": 5,
}
TARGETS = {
    "engine_payments_per_s": 10_000,
    "http_payments_per_s": 2_000,
    "http_p99_ms": 100,
    "hot_over_spread": 0.5,
    "dashboard_ms": 100,
    "server_rss_mb": 500,
}


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    pg = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg,
        "os": platform.platform(),
    }


def step(title: str) -> None:
    print(f"\n== {title} ({datetime.now():%H:%M:%S})", flush=True)


def bench_backend(name: str, url: str | None, size: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    step(f"{name}: loading {size['members']:,} members and {size['merchants']:,} merchants")
    started = time.perf_counter()
    with city(url, size["members"], size["merchants"]) as c:
        out["setup_seconds"] = round(time.perf_counter() - started, 1)
        step(f"{name}: engine, payments spread over {size['merchants']:,} merchants")
        out["engine"] = engine_bench.run(c, size["engine_payments"], hot=False, label="spread")
        print(out["engine"], flush=True)
        step(f"{name}: engine, hot spot (one merchant, its budgets)")
        out["hot"] = engine_bench.run(c, size["engine_payments"], hot=True, label="hot")
        print(out["hot"], flush=True)
        step(f"{name}: HTTP, {size['connections']} connections for {size['http_seconds']} s")
        out["http"] = http_bench.run(
            c,
            seconds=size["http_seconds"],
            connections=size["connections"],
            tokens=size["tokens"],
        )
        print(out["http"], flush=True)
    step(f"{name}: dashboards with {size['scale_payments']:,} payments stored")
    with city(url, min(size["members"], 100_000), size["merchants"]) as c:
        # A slow query runs once after its warm-up: at 10 million payments the dashboards
        # that scan a month of payments take minutes, and the run must end in 30.
        out["scale"] = scale_bench.run(
            c, count=size["scale_payments"], repeats=3, budget_seconds=5.0, explain=False
        )
    print(out["scale"], flush=True)
    return out


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, met?) rows."""
    rows: list[tuple[str, str, str, str]] = []

    def add(figure: str, value: float, target: str, met: bool, unit: str = "") -> None:
        rows.append((figure, f"{value:,.0f}{unit}", target, "yes" if met else "no"))

    t = TARGETS
    for name in ("sqlite", "postgresql"):
        r = results.get(name)
        if not r:
            continue
        eng, hot, http, scale = r["engine"], r["hot"], r["http"], r["scale"]
        add(
            f"{name}: engine payments/s",
            eng["payments_per_s"],
            f">= {t['engine_payments_per_s']:,}",
            eng["payments_per_s"] >= t["engine_payments_per_s"],
        )
        ratio = hot["payments_per_s"] / max(eng["payments_per_s"], 1)
        rows.append(
            (
                f"{name}: hot spot payments/s (x of spread)",
                f"{hot['payments_per_s']:,} ({ratio:.2f}x)",
                ">= 0.5x spread",
                "yes" if ratio >= t["hot_over_spread"] else "no",
            )
        )
        add(
            f"{name}: HTTP payments/s",
            http["payments_per_s"],
            f">= {t['http_payments_per_s']:,}",
            http["payments_per_s"] >= t["http_payments_per_s"],
        )
        rows.append(
            (
                f"{name}: HTTP p50 / p99 ms",
                f"{http['p50_ms']:.1f} / {http['p99_ms']:.1f}",
                f"p99 <= {t['http_p99_ms']}",
                "yes" if http["p99_ms"] <= t["http_p99_ms"] else "no",
            )
        )
        add(
            f"{name}: server peak RSS MB",
            http["server_peak_rss_mb"],
            f"<= {t['server_rss_mb']}",
            http["server_peak_rss_mb"] <= t["server_rss_mb"],
        )
        rows.append(
            (
                f"{name}: slowest dashboard query at {scale['payments_stored']:,} payments",
                f"{scale['slowest_ms']:.1f} ms",
                f"<= {t['dashboard_ms']} ms",
                "yes" if scale["slowest_ms"] <= t["dashboard_ms"] else "no",
            )
        )
    ref = results.get("pgbench")
    pg = results.get("postgresql")
    if ref and pg:
        ratio = pg["engine"]["payments_per_s"] / max(ref["tps"], 1)
        rows.append(
            (
                "pgbench TPC-B tps (-c 8 -j 2 -T 30, scale 10)",
                f"{ref['tps']:,.0f}",
                "reference",
                "",
            )
        )
        rows.append(
            (
                "Eum engine payments/s on PostgreSQL / pgbench tps",
                f"{ratio:.2f}",
                ">= 1",
                "yes" if ratio >= 1 else "no",
            )
        )
    return rows


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Run {results['started']} on {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB,"
        f" Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgresql']};"
        f" {results['seconds'] / 60:.1f} min.",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in verdicts(results)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the run")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one backend")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument(
        "--scale", type=int, help="payments stored for the dashboard figure (default 10M)"
    )
    args = parser.parse_args()
    size = dict(QUICK if args.quick else FULL)
    if args.scale:
        size["scale_payments"] = args.scale
    started = time.perf_counter()
    results: dict[str, Any] = {
        "started": datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick,
        "sizes": size,
        "machine": machine(),
        "targets": TARGETS,
    }
    backends = {"sqlite": None, "postgresql": PG_URL}
    for name, url in backends.items():
        if args.only in (None, name):
            results[name] = bench_backend(name, url, size)
    if args.only in (None, "postgresql"):
        step(f"pgbench TPC-B, scale 10, -c 8 -j 2 -T {size['pgbench_seconds']}")
        results["pgbench"] = pgbench_ref.run_pgbench(seconds=size["pgbench_seconds"])
        print(results["pgbench"], flush=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["verdicts"] = verdicts(results)
    table = markdown(results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = datetime.now().strftime("%Y-%m-%d") + ("-quick" if args.quick else "")
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    (out / f"{stem}.md").write_text(table)
    print("\n" + table)
    print(f"written: {out / (stem + '.json')}, {out / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
