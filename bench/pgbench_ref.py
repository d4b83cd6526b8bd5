"""PostgreSQL reference figure: pgbench's default TPC-B-like script on a scratch database.

Library use::

    figures = run_pgbench(seconds=30)
    print(figures["tps"], figures["latency_ms"])

Command line::

    python bench/pgbench_ref.py --seconds 30

The scratch database is dropped (if it exists), created, initialised with ``pgbench -i``,
benchmarked, and dropped again even when the run fails. Only the command-line tools
``dropdb``, ``createdb`` and ``pgbench`` are used (standard library only on the Python side).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

_PROTECTED_DATABASES = frozenset({"postgres", "template0", "template1"})
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# PostgreSQL 14+: "(without initial connection time)"; older: "(excluding connections ...)".
_TPS_PATTERNS = (
    re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE),
    re.compile(r"^tps = ([0-9.]+) \(excluding connections establishing\)", re.MULTILINE),
    re.compile(r"^tps = ([0-9.]+)", re.MULTILINE),
)
_LATENCY = re.compile(r"^latency average = ([0-9.]+) ms", re.MULTILINE)
_TRANSACTIONS = re.compile(r"^number of transactions actually processed: (\d+)", re.MULTILINE)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.MULTILINE)


class PgbenchError(RuntimeError):
    """A PostgreSQL command-line tool failed or its output could not be parsed."""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is not None:
        return found
    fallback = f"/usr/bin/{name}"
    if shutil.which(fallback) is not None:
        return fallback
    raise PgbenchError(f"{name} not found on PATH or in /usr/bin")


def _run(argv: list[str], timeout_s: float) -> str:
    """Run a command; return stdout + stderr, raising PgbenchError on failure."""
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PgbenchError(f"timed out after {timeout_s:.0f}s: {' '.join(argv)}") from exc
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise PgbenchError(
            f"exit status {completed.returncode}: {' '.join(argv)}\n{output.strip()}"
        )
    return output


def parse_pgbench_output(output: str) -> dict[str, Any]:
    """Extract tps, average latency and transaction counts from a ``pgbench`` run report."""
    tps: float | None = None
    for pattern in _TPS_PATTERNS:
        match = pattern.search(output)
        if match:
            tps = float(match.group(1))
            break
    latency = _LATENCY.search(output)
    if tps is None or latency is None:
        raise PgbenchError(f"could not find tps / latency in pgbench output:\n{output.strip()}")
    parsed: dict[str, Any] = {"tps": tps, "latency_ms": float(latency.group(1))}
    transactions = _TRANSACTIONS.search(output)
    if transactions:
        parsed["transactions"] = int(transactions.group(1))
    failed = _FAILED.search(output)
    if failed:
        parsed["failed_transactions"] = int(failed.group(1))
    return parsed


def run_pgbench(
    host: str = "127.0.0.1",
    port: int = 5432,
    user: str = "postgres",
    scale: int = 10,
    clients: int = 8,
    threads: int = 2,
    seconds: int = 30,
    database: str = "eum_bench_pgbench",
) -> dict[str, Any]:
    """(Re)create ``database``, run ``pgbench -i -s scale -q`` then the default TPC-B-like
    script (``pgbench -c clients -j threads -T seconds -n``), drop the database, and return
    ``{"tps", "latency_ms", "scale", "clients", "threads", "seconds", "pgbench_version"}``
    (plus ``transactions`` / ``failed_transactions`` when pgbench reports them).
    """
    if database in _PROTECTED_DATABASES or not _DATABASE_NAME.match(database):
        raise ValueError(f"refusing to use {database!r} as a scratch database")
    conn = ["-h", host, "-p", str(port), "-U", user]
    dropdb, createdb, pgbench = _tool("dropdb"), _tool("createdb"), _tool("pgbench")

    version_text = _run([pgbench, "--version"], 30).strip()
    # "pgbench (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)" -> "15.20"
    version_match = re.search(r"\(PostgreSQL\)\s+(\S+)", version_text)
    version = version_match.group(1) if version_match else version_text

    _run([dropdb, *conn, "--if-exists", database], 120)
    _run([createdb, *conn, database], 120)
    try:
        _run([pgbench, *conn, "-i", "-s", str(scale), "-q", database], 600 + 60 * scale)
        output = _run(
            [
                pgbench,
                *conn,
                "-c",
                str(clients),
                "-j",
                str(threads),
                "-T",
                str(seconds),
                "-n",
                database,
            ],
            seconds + 300,
        )
    finally:
        _run([dropdb, *conn, "--if-exists", database], 120)

    figures = parse_pgbench_output(output)
    return {
        "tps": figures["tps"],
        "latency_ms": figures["latency_ms"],
        "scale": scale,
        "clients": clients,
        "threads": threads,
        "seconds": seconds,
        "pgbench_version": version,
        **{key: value for key, value in figures.items() if key not in ("tps", "latency_ms")},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pgbench TPC-B-like reference run.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--database", default="eum_bench_pgbench")
    args = parser.parse_args(argv)
    try:
        result = run_pgbench(
            host=args.host,
            port=args.port,
            user=args.user,
            scale=args.scale,
            clients=args.clients,
            threads=args.threads,
            seconds=args.seconds,
            database=args.database,
        )
    except (PgbenchError, ValueError) as exc:
        print(f"pgbench_ref: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
