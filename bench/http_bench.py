"""HTTP throughput: payments per second through the whole stack (uvicorn, FastAPI, bearer
authentication, idempotency keys, the payment engine, durable commits), with latency
percentiles and the server's memory.

The server runs as a subprocess (``uvicorn eum.api.app:create_app``) on the benchmark
city's database; the closed-loop load generator runs in this process. Members log in
through the auth service directly on the database, so that no argon2 login is measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import loadgen  # type: ignore[import-not-found]
from city import City  # type: ignore[import-not-found]
from sqlalchemy import Connection

from eum import errors
from eum.auth import service as auth
from eum.clock import now
from eum.config import settings
from eum.db import run_in_transaction

HOST = "127.0.0.1"
PAY_PATH = "/api/v1/payments"
HEALTH_PATH = "/api/v1/health"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
RSS_INTERVAL_S = 0.2
BENCH_PASSWORD = "bench-password-not-secret"
BODIES = 8192  # distinct pre-encoded request bodies, cycled by sequence number
MIN_AMOUNT, MAX_AMOUNT = 1_000, 30_000


def run(
    city: City,
    *,
    seconds: float = 30,
    connections: int = 64,
    workers: int = 1,
    tokens: int = 256,
    warmup: float = 3.0,
    hot: bool = False,
    seed: int = 13,
) -> dict[str, Any]:
    """Serve the city over HTTP and drive ``connections`` keep-alive connections of
    ``POST /api/v1/payments`` for ``warmup + seconds``; figures cover the last ``seconds``.

    Request ``k`` (in issue order) pays as member ``k % tokens``, so the load spreads evenly
    over the members and each connection acts as a gateway for many of them: every member
    holds 1,000,000 won, enough for about 60 payments, so tying a member to a connection
    would run the busiest wallets dry (422 insufficient_funds) within a 30-second run.
    With ``hot`` every payment goes to the city's hot merchant, otherwise to random ones.
    """
    bearer = member_tokens(city, tokens)
    merchants = [city.hot_merchant] if hot else city.merchants
    make_request = request_factory(bearer, merchants, seed)
    with serve(city, workers) as (port, pid):
        with RssSampler(pid) as rss:
            result = asyncio.run(
                loadgen.run_load(HOST, port, connections, seconds, make_request, warmup_s=warmup)
            )
        hwm_kb = tree_kb(pid, "VmHWM")
    paid = result.statuses.get(201, 0)
    return {
        "requests": result.requests,
        "seconds": result.seconds,
        "payments_per_s": round(paid / result.seconds),
        "p50_ms": result.p50_ms,
        "p90_ms": result.p90_ms,
        "p99_ms": result.p99_ms,
        "max_ms": result.max_ms,
        "mean_ms": result.mean_ms,
        "statuses": result.statuses,
        "errors": result.errors,
        "connections": connections,
        "workers": workers,
        "tokens": len(bearer),
        "hot_spot": hot,
        "server_peak_rss_mb": round(rss.peak_kb / 1024, 1),
        # Sum of each server process's own peak (startup included), read after the load.
        "server_hwm_mb": round(hwm_kb / 1024, 1) if hwm_kb else None,
    }


# --- members' tokens ------------------------------------------------------------------


def member_tokens(city: City, count: int) -> list[str]:
    """Bearer tokens for the first ``count`` members: a member login linked to each (made
    on the first run, reused after) and a fresh session, in one transaction."""
    if count < 1:
        raise ValueError("tokens must be >= 1")
    chosen = city.members[:count]
    with cheap_password_hashing():
        tokens: list[str] = run_in_transaction(city.engine, _log_in, chosen)
    return tokens


def _log_in(conn: Connection, member_ids: list[str]) -> list[str]:
    at = now()
    out = []
    for member_id in member_ids:
        login = f"bench-{member_id}"
        with suppress(errors.AlreadyExists):  # made by an earlier run on the same city
            auth.create_staff(
                conn,
                login=login,
                password=BENCH_PASSWORD,
                role="member",
                at=at,
                member_id=member_id,
            )
        session = auth.login(conn, login=login, password=BENCH_PASSWORD, at=at)
        if session is None:
            raise RuntimeError(f"the benchmark login {login} was refused")
        out.append(session["access_token"])
    return out


@contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """The cheapest argon2 parameters while benchmark logins are made (about 0.35 s per
    login and hash otherwise). Only these users' stored hashes carry them; the server
    subprocess reads its own settings."""
    cfg = settings()
    saved = cfg.password_time_cost, cfg.password_memory_kib
    cfg.password_time_cost, cfg.password_memory_kib = 1, 1024
    try:
        yield
    finally:
        cfg.password_time_cost, cfg.password_memory_kib = saved


# --- requests -------------------------------------------------------------------------


def request_factory(tokens: list[str], merchants: list[str], seed: int) -> loadgen.RequestFactory:
    """Payments of 1,000..30,000 won to random ``merchants``, a fresh Idempotency-Key each;
    request ``k`` (the run's global sequence number) uses ``tokens[k % len(tokens)]``."""
    rng = random.Random(seed)
    bodies = [
        json.dumps(
            {"merchant": rng.choice(merchants), "amount": rng.randint(MIN_AMOUNT, MAX_AMOUNT)},
            separators=(",", ":"),
        ).encode()
        for _ in range(BODIES)
    ]
    authorizations = [f"Bearer {token}" for token in tokens]
    prefix = f"hb-{uuid.uuid4().hex[:12]}"

    def make_request(connection: int, sequence: int) -> tuple[str, dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json",
            "Authorization": authorizations[sequence % len(authorizations)],
            "Idempotency-Key": f"{prefix}-{sequence}",
        }
        return PAY_PATH, headers, bodies[sequence % BODIES]

    return make_request


# --- the server -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(city: City) -> str:
    """The city's URL as the server must see it: a PostgreSQL city lives in a schema of
    its own, selected by ``options=-csearch_path=...`` in the URL's query."""
    url: str = city.engine.url.render_as_string(hide_password=False)
    return url


@contextmanager
def serve(city: City, workers: int) -> Iterator[tuple[int, int]]:
    """Run the API server on a free port until the block ends; yields (port, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "EUM_DATABASE_URL": database_url(city),
        "EUM_DEMO": "false",
        "EUM_SECRET_KEY": secrets.token_hex(32),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "eum.api.app:create_app",
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that a kill reaches workers
        )
        try:
            _wait_healthy(proc, port, log)
            yield port, proc.pid
        finally:
            _stop(proc)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log: IO[str]) -> None:
    url = f"http://{HOST}:{port}{HEALTH_PATH}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {HEALTH_PATH} in time:\n{_tail(log)}")


def _tail(log: IO[str], chars: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-chars:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down gracefully and the payment engine commits what is
    queued), then SIGKILL to the whole process group after ``STOP_TIMEOUT_S``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            pass
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# --- memory ---------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (from the parent ids in /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM); 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_kb(root: int, field: str) -> int:
    return sum(status_kb(pid, field) for pid in process_tree(root))


class RssSampler:
    """Samples the summed VmRSS of a process tree every ``interval`` seconds in a thread
    and keeps the peak."""

    def __init__(self, root: int, interval: float = RSS_INTERVAL_S) -> None:
        self.root = root
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        self.peak_kb = max(self.peak_kb, tree_kb(self.root, "VmRSS"))
