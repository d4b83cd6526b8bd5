"""A real ``eum serve`` on a fresh database and a random load over its JSON API, for the
reliability tests of issue #7 (concurrency, crash safety).

- ``build_city`` writes a small city before the server opens the database: GYEYANG_CITY's
  issuers, rules and shops with budgets small enough to run dry, eight members in two
  user groups, the staff who act on them, and one session token per login (made on the
  database, so that no login endpoint throttles the test).
- ``ServerProcess`` runs ``eum serve`` in a process group of its own: ``kill`` sends
  SIGKILL to the whole group, so that the payment writer child dies with the server, as
  in a crash.
- ``Load`` drives client threads doing random money requests on overlapping wallets,
  shops, pools and budgets, each under a fresh Idempotency-Key, re-sends about a tenth of
  them with the same key and body (half at the same time as the original, half after its
  answer) and records every answer per key.
- ``check_books`` reads the stopped server's database and checks the books against what
  the clients were told: the ledger verifies, nothing is negative, every acknowledged key
  is applied exactly once with what its answer said, and money is conserved.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import Connection, Engine, func, select

from eum.api.problems import from_stored
from eum.auth import service as auth
from eum.clock import now
from eum.community.store import contributions, donations
from eum.idempotency import idempotency_keys
from eum.ledger import service as ledger
from eum.ledger.store import accounts, journal_entries, postings
from eum.payments.store import payment_lines, payments, refunds, settlements
from eum.wallets import service as wallets
from eum.wallets.store import charges, members, withdrawals
from tests.conftest import BUPYEONG, GYEYANG, GYEYANG_CITY, INCHEON, Platform

HOST = "127.0.0.1"
API = "/api/v1"
PASSWORD = "reliability-pass-1"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 20.0
GONE_TIMEOUT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 20.0
THREADS = 16
RETRY_SHARE = 0.10  # of requests re-sent with the same key and body
REFUND_WINDOW = 12  # refunds pick among the last payments acknowledged, so they collide
MAX_RESOLVE_ATTEMPTS = 20
MAX_BACKOFF_SECONDS = 1.0
START_BALANCE_KRW = 200_000

# Rates of the rules (bps), to tell a line its budget cut short from a full one.
RATES = {str(r["id"]): int(r["rate_bps"]) for r in GYEYANG_CITY["rules"]}
BUDGETS = {"incheon-cashback": 30_000, "gyeyang-event": 2_000, "gyeyang-fee": 1_500}
MEMBERS = {
    "u-kim": "gyeyang",
    "u-lee": "incheon",
    "u-park": "bupyeong",
    "u-choi": "gyeyang",
    "u-jung": "incheon",
    "u-kang": "gyeyang",
    "u-yoon": "bupyeong",
    "u-han": "incheon",
}
GROUPS = {
    "club": ("u-kim", ["u-kim", "u-lee", "u-park", "u-choi"]),
    "band": ("u-jung", ["u-jung", "u-kang", "u-lee", "u-yoon"]),
}
SHOPS = {str(m["id"]): str(m["id"]).removeprefix("m-") for m in GYEYANG_CITY["merchants"]}
CAMPAIGN = "nanum"
FUNDERS = {
    "incheon-cashback": ("incheon-admin", 2_000, 10_000),
    "gyeyang-event": ("gyeyang-admin", 300, 2_000),
    "gyeyang-fee": ("gyeyang-admin", 300, 1_500),
}

CITY: dict[str, Any] = {
    "platform": {"limits": {"personal": {"monthly_charge": 5_000_000, "max_balance": 300_000}}},
    "issuers": [INCHEON, GYEYANG, BUPYEONG],
    "budgets": [{"id": b, "owner": b.split("-")[0], "amount": a} for b, a in BUDGETS.items()],
    "rules": GYEYANG_CITY["rules"],
    "merchants": GYEYANG_CITY["merchants"],
    "members": [{"id": m, "card": card} for m, card in MEMBERS.items()],
    "campaigns": GYEYANG_CITY["campaigns"],
    "groups": [
        {"id": g, "name": f"모임 {g}", "owner": owner, "members": people}
        for g, (owner, people) in GROUPS.items()
    ],
}
USERS: dict[str, dict[str, Any]] = {
    "operator": {"role": "operator"},
    "incheon-admin": {"role": "issuer_admin", "issuer_id": "incheon"},
    "gyeyang-admin": {"role": "issuer_admin", "issuer_id": "gyeyang"},
    **{m: {"role": "member", "member_id": m} for m in MEMBERS},
    **{login: {"role": "merchant", "merchant_id": m} for m, login in SHOPS.items()},
}

# What each kind of request is, what it returns and where that is stored.
WEIGHTS = {
    "charge": 13,
    "pay": 20,
    "pay_qr": 12,
    "refund": 12,
    "withdraw": 6,
    "donate": 6,
    "contribute": 8,
    "group_pay": 8,
    "group_donate": 3,
    "fund": 3,
    "settle": 1,
}
RESULT_ID = {
    "charge": "charge_id",
    "withdraw": "withdrawal_id",
    "pay": "payment_id",
    "pay_qr": "payment_id",
    "group_pay": "payment_id",
    "refund": "refund_id",
    "donate": "donation_id",
    "group_donate": "donation_id",
    "contribute": "contribution_id",
    "fund": "entry_id",
    "settle": "settlement_id",
}
PAYMENT_KINDS = ("pay", "pay_qr", "group_pay")
# The tables whose rows the requests make, by the kind of their journal entry.
TABLES = {
    "charge": charges,
    "withdraw": withdrawals,
    "pay": payments,
    "refund": refunds,
    "donate": donations,
    "contribute": contributions,
    "settle": settlements,
}
ENTRY_KIND = {
    "charge": "charge",
    "withdraw": "withdraw",
    "pay": "pay",
    "pay_qr": "pay",
    "group_pay": "pay",
    "refund": "refund",
    "donate": "donate",
    "group_donate": "donate",
    "contribute": "contribute",
    "fund": "fund",
    "settle": "settle",
}
# Accounts by what they hold: money of the platform's people (members, groups, campaigns,
# shops), the outside world's (banks, the card network), and public money (budgets and
# the issuers' funding they are drawn from).
HELD = ("cashback", "charged", "pool", "campaign", "receivable", "payout")
PUBLIC = ("budget", "funding")
OUTSIDE = ("external",)


# --- the city ----------------------------------------------------------------------------


def build_city(engine: Engine) -> dict[str, str]:
    """The city, its users and a start balance for every member; a token per login."""
    platform = Platform(engine).setup(CITY)

    def stage(conn: Connection) -> dict[str, str]:
        at = now()
        for login, spec in USERS.items():
            auth.create_staff(conn, login=login, password=PASSWORD, at=at, **spec)
        for member in MEMBERS:
            wallets.charge(conn, member_id=member, amount_krw=START_BALANCE_KRW, at=at)
        tokens = {}
        for login in USERS:
            session = auth.login(conn, login=login, password=PASSWORD, at=at)
            assert session is not None, login
            tokens[login] = str(session["access_token"])
        return tokens

    tokens: dict[str, str] = platform.run(stage)
    return tokens


def database_url(engine: Engine) -> str:
    """The URL the server must open: a PostgreSQL test schema rides in its options."""
    return engine.url.render_as_string(hide_password=False)


# --- the server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def process_group(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            found.append(int(entry.name))
    return found


class ServerProcess:
    """``eum serve`` on a database, in a process group of its own (with its writer child)."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.starts = 0
        self._log: IO[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def start(self) -> str:
        """Start on a free port and wait for /health; returns the base URL."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        port = free_port()
        env = {
            **os.environ,
            "EUM_DATABASE_URL": self.url,
            "EUM_DEMO": "true",
            "EUM_PAYMENT_WRITER": "process",
        }
        eum = Path(sys.executable).with_name("eum")
        log_path = self.workdir / f"server-{self.starts}.log"
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed when the server ends
        self.proc = subprocess.Popen(
            [str(eum), "serve", "--host", HOST, "--port", str(port)],
            env=env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes the writer too
        )
        self.base_url = f"http://{HOST}:{port}"
        self._wait_healthy()
        return self.base_url

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"eum serve exited ({self.proc.returncode}):\n{self.log()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}{API}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)  # polling for start-up, not for correctness
        raise RuntimeError(f"eum serve did not answer in {START_TIMEOUT_SECONDS}s:\n{self.log()}")

    def log(self, chars: int = 6000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-chars:]

    def pids(self) -> list[int]:
        """The server and its children (the payment writer) still alive."""
        return [] if self.proc is None else process_group(self.proc.pid)

    def kill(self) -> list[int]:
        """SIGKILL the whole process group, as a crash would; returns the pids killed,
        once every one of them is gone."""
        assert self.proc is not None
        pids = self.pids()
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._wait_gone(pids)
        self._close_log()
        return pids

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down, the payment engine commits what is queued and stops
        its writer); SIGKILL to the group if it does not end in time."""
        assert self.proc is not None
        pids = self.pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        with suppress(ProcessLookupError):  # a writer child left behind must not write on
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._wait_gone(pids)
        self._close_log()

    def _wait_gone(self, pids: list[int]) -> None:
        deadline = time.monotonic() + GONE_TIMEOUT_SECONDS
        assert self.proc is not None
        while set(pids) & set(process_group(self.proc.pid)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {pids} outlived SIGKILL")
            time.sleep(0.02)  # polling for the processes to go, not for correctness

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()


# --- the load ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One HTTP answer to a money request."""

    status: int
    body: Any
    replayed: str | None  # the Idempotent-Replayed header
    retry_after: str | None = None

    @property
    def final(self) -> bool:
        """An answer the server keeps under the key (a result or a domain error); 429 and
        503 (payment_pending) say nothing was decided yet."""
        return 200 <= self.status < 500 and self.status != 429

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Call:
    """One money request under one key, and everything that came back for it."""

    key: str
    kind: str
    login: str
    path: str
    body: dict[str, Any] | None
    shop: str | None = None  # the merchant paid (a refund's shop)
    answers: list[Answer] = field(default_factory=list)
    sends: int = 0
    lost: int = 0  # sent, and the connection broke before an answer came
    undelivered: int = 0  # the connection could not even be opened
    retried_together: bool = False
    retried_after: bool = False

    @property
    def result(self) -> Answer | None:
        """The first answer that decided the request, if any came."""
        return next((a for a in self.answers if a.final), None)

    @property
    def acknowledged(self) -> bool:
        result = self.result
        return result is not None and result.ok

    @property
    def result_id(self) -> str | None:
        result = self.result
        if result is None or not result.ok:
            return None
        value = result.body.get(RESULT_ID[self.kind])
        return None if value is None else str(value)


class Load:
    """Client threads doing random money requests against one server at a time."""

    def __init__(self, tokens: dict[str, str], *, seed: int, threads: int = THREADS) -> None:
        self.tokens = tokens
        self.seed = seed
        self.threads = threads
        self.prefix = f"rel-{uuid.uuid4().hex[:10]}"
        self.calls: dict[str, Call] = {}
        self.outstanding: Counter[str] = Counter()  # requests sent and not answered, by kind
        self.errors: list[BaseException] = []
        self._keys = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._paid: list[tuple[str, str, int]] = []  # acknowledged (payment id, shop, charged)
        self._paid_ids: set[str] = set()
        self._workers: list[threading.Thread] = []
        self._started = 0.0

    # --- running -------------------------------------------------------------------------

    def run(self, base_url: str, seconds: float) -> None:
        self.start(base_url, seconds)
        self.join()

    def start(self, base_url: str, seconds: float) -> None:
        self._stop.clear()
        self._started = time.monotonic()
        deadline = self._started + seconds
        self._workers = [
            threading.Thread(
                target=self._guarded, args=(i, base_url, deadline), name=f"load-{i}", daemon=True
            )
            for i in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        """No new request starts; those on the wire finish or break."""
        self._stop.set()

    def join(self) -> None:
        for worker in self._workers:
            worker.join(REQUEST_TIMEOUT_SECONDS + 5)
            assert not worker.is_alive(), f"{worker.name} did not finish"
        if self.errors:
            raise self.errors[0]

    def wait_busy(self, *, after: float, payments_on_the_wire: int, timeout: float) -> bool:
        """Wait until ``after`` seconds of load ran and at least ``payments_on_the_wire``
        payments are sent and unanswered; False if that did not happen in ``timeout``."""
        deadline = time.monotonic() + timeout

        def busy() -> bool:
            ran = time.monotonic() - self._started >= after
            return ran and sum(self.outstanding[k] for k in PAYMENT_KINDS) >= payments_on_the_wire

        with self._changed:
            while not busy():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Woken by every send and answer, or at the latest when ``after`` is reached.
                self._changed.wait(min(left, max(0.01, self._started + after - time.monotonic())))
        return True

    def _guarded(self, index: int, base_url: str, deadline: float) -> None:
        try:
            self._work(index, base_url, deadline)
        except BaseException as exc:  # surfaced by join()
            with self._lock:
                self.errors.append(exc)

    def _work(self, index: int, base_url: str, deadline: float) -> None:
        rng = random.Random(f"{self.seed}-{index}")
        with (
            httpx.Client(base_url=base_url + API, timeout=REQUEST_TIMEOUT_SECONDS) as client,
            httpx.Client(base_url=base_url + API, timeout=REQUEST_TIMEOUT_SECONDS) as twin,
        ):
            while not self._stop.is_set() and time.monotonic() < deadline:
                call = self._next_call(rng, client)
                if call is None:
                    continue
                roll = rng.random()
                if roll < RETRY_SHARE / 2:  # the same request twice at once
                    call.retried_together = True
                    other = threading.Thread(target=self._send_guarded, args=(twin, call))
                    other.start()
                    self._send(client, call)
                    other.join()
                else:
                    self._send(client, call)
                    if roll < RETRY_SHARE and not self._stop.is_set():  # again, after the answer
                        call.retried_after = True
                        self._send(client, call)

    def _send_guarded(self, client: httpx.Client, call: Call) -> None:
        try:
            self._send(client, call)
        except BaseException as exc:
            with self._lock:
                self.errors.append(exc)

    def _send(self, client: httpx.Client, call: Call) -> Answer | None:
        """Send ``call`` once; record its answer, or that none came."""
        with self._changed:
            call.sends += 1
            self.outstanding[call.kind] += 1
            self._changed.notify_all()
        answer = None
        try:
            response = client.post(
                call.path,
                json=call.body,
                headers={
                    "Authorization": f"Bearer {self.tokens[call.login]}",
                    "Idempotency-Key": call.key,
                },
            )
        except (httpx.ConnectError, httpx.ConnectTimeout):
            with self._lock:
                call.undelivered += 1
        except httpx.TransportError:
            with self._lock:
                call.lost += 1
        else:
            answer = Answer(
                response.status_code,
                _json(response),
                response.headers.get("idempotent-replayed"),
                response.headers.get("retry-after"),
            )
        with self._changed:
            self.outstanding[call.kind] -= 1
            if answer is not None:
                call.answers.append(answer)
                self._note_payment(call, answer)
            self._changed.notify_all()
        return answer

    def _note_payment(self, call: Call, answer: Answer) -> None:
        """Keep acknowledged payments for refunds (with the lock held)."""
        if call.kind in PAYMENT_KINDS and answer.ok:
            payment_id = str(answer.body["payment_id"])
            if payment_id not in self._paid_ids:
                assert call.shop is not None
                self._paid_ids.add(payment_id)
                self._paid.append((payment_id, call.shop, int(answer.body["charged"])))

    # --- requests ------------------------------------------------------------------------

    def _new_call(
        self,
        kind: str,
        login: str,
        path: str,
        body: dict[str, Any] | None,
        shop: str | None = None,
    ) -> Call:
        call = Call(f"{self.prefix}-{next(self._keys)}", kind, login, path, body, shop)
        with self._lock:
            self.calls[call.key] = call
        return call

    def _next_call(self, rng: random.Random, client: httpx.Client) -> Call | None:
        kind = rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
        member = rng.choice(list(MEMBERS))
        shop = rng.choice(list(SHOPS))
        if kind == "refund":
            refund = self._refund_call(rng)
            if refund is not None:
                return refund
            kind = "pay"  # nothing paid yet to refund
        if kind == "charge":
            return self._new_call(kind, member, "/charges", {"amount": _won(rng, 5_000, 80_000)})
        if kind == "pay":
            body: dict[str, Any] = {"merchant": shop, "amount": _won(rng, 1_000, 30_000)}
            if rng.random() < 0.2:
                body["channel"] = "online"
            return self._new_call(kind, member, "/payments", body, shop)
        if kind == "pay_qr":
            return self._qr_call(rng, client, member, shop)
        if kind == "withdraw":
            return self._new_call(
                kind, member, "/withdrawals", {"amount": _won(rng, 1_000, 20_000)}
            )
        if kind == "donate":
            path = f"/campaigns/{CAMPAIGN}/donations"
            return self._new_call(kind, member, path, {"amount": _won(rng, 50, 600)})
        group = rng.choice(list(GROUPS))
        owner, people = GROUPS[group]
        if kind == "contribute":  # now and then by someone outside the group
            who = rng.choice(people) if rng.random() < 0.9 else member
            path = f"/groups/{group}/contributions"
            return self._new_call(kind, who, path, {"amount": _won(rng, 50, 600)})
        if kind == "group_pay":
            body = {"merchant": shop, "amount": _won(rng, 100, 2_000)}
            return self._new_call(kind, owner, f"/groups/{group}/payments", body, shop)
        if kind == "group_donate":
            body = {"campaign": CAMPAIGN, "amount": _won(rng, 50, 800)}
            return self._new_call(kind, owner, f"/groups/{group}/donations", body)
        if kind == "fund":
            budget = rng.choice(list(FUNDERS))
            admin, low, high = FUNDERS[budget]
            path = f"/budgets/{budget}/fundings"
            return self._new_call(kind, admin, path, {"amount": _won(rng, low, high)})
        assert kind == "settle"
        return self._new_call(kind, "operator", "/settlements", None)

    def _qr_call(
        self, rng: random.Random, client: httpx.Client, member: str, shop: str
    ) -> Call | None:
        """The shop shows a QR code (with a fixed amount or without), the member pays by it."""
        amount = _won(rng, 1_000, 30_000)
        fixed = rng.random() < 0.5
        try:
            shown = client.get(
                f"/merchants/{shop}/qr",
                params={"amount": amount} if fixed else None,
                headers={"Authorization": f"Bearer {self.tokens[SHOPS[shop]]}"},
            )
        except httpx.TransportError:
            return None  # the server is gone: no payment was asked for
        if shown.status_code != 200:
            raise AssertionError(f"QR code of {shop}: {shown.status_code} {shown.text}")
        body: dict[str, Any] = {"qr": shown.json()["payload"]}
        if not fixed:
            body["amount"] = amount
        return self._new_call("pay_qr", member, "/payments", body, shop)

    def _refund_call(self, rng: random.Random) -> Call | None:
        """A shop refunds all, half or a random part of one of the latest payments."""
        with self._lock:
            recent = self._paid[-REFUND_WINDOW:]
        if not recent:
            return None
        payment_id, shop, charged = rng.choice(recent)
        amount = rng.choice([charged, max(1, charged // 2), rng.randint(1, charged)])
        path = f"/payments/{payment_id}/refunds"
        return self._new_call("refund", SHOPS[shop], path, {"amount": amount}, shop)

    # --- after the load ------------------------------------------------------------------

    def resend(self, base_url: str, calls: Iterable[Call], *, together: int = 1) -> None:
        """Send each call again with its key and body: ``together`` copies at once, then
        once more after their answers."""
        calls = list(calls)
        with httpx.Client(base_url=base_url + API, timeout=REQUEST_TIMEOUT_SECONDS) as client:
            clients = [client] + [
                httpx.Client(base_url=base_url + API, timeout=REQUEST_TIMEOUT_SECONDS)
                for _ in range(together - 1)
            ]
            try:
                for call in calls:
                    copies = [
                        threading.Thread(target=self._send_guarded, args=(c, call))
                        for c in clients[1:]
                    ]
                    for copy in copies:
                        copy.start()
                    self._send(client, call)
                    for copy in copies:
                        copy.join()
                    # Once more after those answers, and again while the server sheds
                    # load (429), until it has answered the key ``together + 1`` times.
                    for _ in range(MAX_RESOLVE_ATTEMPTS):
                        if sum(a.final for a in call.answers) > together:
                            break
                        answer = self._send(client, call)
                        if answer is None or not answer.final:
                            _back_off(answer)
            finally:
                for extra in clients[1:]:
                    extra.close()
        if self.errors:
            raise self.errors[0]

    def resolve(self, base_url: str) -> list[Call]:
        """Re-send every call without a deciding answer (shed with 429, pending, or lost)
        until the server decides it; returns those it never decided."""
        with httpx.Client(base_url=base_url + API, timeout=REQUEST_TIMEOUT_SECONDS) as client:
            for call in self.undecided():
                for _ in range(MAX_RESOLVE_ATTEMPTS):
                    answer = self._send(client, call)
                    if answer is not None and answer.final:
                        break
                    _back_off(answer)
        return self.undecided()

    def undecided(self) -> list[Call]:
        return [c for c in self.calls.values() if c.result is None]

    def figures(self) -> dict[str, Any]:
        """What ran: requests per kind, keys re-sent, answers by class."""
        statuses: Counter[str] = Counter()
        for call in self.calls.values():
            for a in call.answers:
                statuses[_status_class(a.status)] += 1
            statuses["lost"] += call.lost
            statuses["undelivered"] += call.undelivered
        calls = list(self.calls.values())
        return {
            "requests": len(calls),
            "sends": sum(c.sends for c in calls),
            "by_kind": dict(Counter(c.kind for c in calls)),
            "acknowledged_by_kind": dict(Counter(c.kind for c in calls if c.acknowledged)),
            "keys_retried": sum(c.retried_together or c.retried_after for c in calls),
            "retried_together": sum(c.retried_together for c in calls),
            "retried_after": sum(c.retried_after for c in calls),
            "answers": dict(statuses),
            "errors": dict(
                Counter(
                    c.result.body.get("code")
                    for c in calls
                    if c.result is not None and not c.result.ok
                )
            ),
        }


def _back_off(answer: Answer | None) -> None:
    """Wait as the server asks before sending again (a protocol step, not a wait for a
    result)."""
    wait = answer.retry_after if answer is not None else None
    time.sleep(min(float(wait or 0.1), MAX_BACKOFF_SECONDS))


def _won(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"text": response.text}


def _status_class(status: int) -> str:
    if status in (429, 503):
        return str(status)
    return f"{status // 100}xx"


# --- the books ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Ids of the rows the requests make, as they were before the load."""

    ids: dict[str, set[str]]


def _ids(conn: Connection) -> dict[str, set[str]]:
    found = {
        kind: {str(i) for i in conn.execute(select(table.c.id)).scalars()}
        for kind, table in TABLES.items()
    }
    found["fund"] = {
        str(i)
        for i in conn.execute(
            select(journal_entries.c.id).where(journal_entries.c.kind == "fund")
        ).scalars()
    }
    return found


def snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        return Snapshot(_ids(conn))


def check_whole_entries(conn: Connection) -> dict[str, int]:
    """The ledger verifies and no entry is half-written: every entry has postings that sum
    to zero, and every row of a money operation has its entry of the right kind (and
    every such entry its row)."""
    found = ledger.verify(conn)
    assert found.ok, f"the ledger does not verify: {found.mismatches[:10]}"
    empty = conn.execute(
        select(func.count())
        .select_from(journal_entries)
        .where(~journal_entries.c.id.in_(select(postings.c.entry_id)))
    ).scalar_one()
    assert empty == 0, f"{empty} journal entries without postings"
    entries: dict[str, set[str]] = defaultdict(set)
    for entry_id, kind in conn.execute(select(journal_entries.c.id, journal_entries.c.kind)):
        entries[kind].add(str(entry_id))
    rows = _ids(conn)
    for kind in TABLES:
        assert rows[kind] == entries[kind], (
            f"{kind}: rows without their entry {sorted(rows[kind] - entries[kind])[:5]}, "
            f"entries without their row {sorted(entries[kind] - rows[kind])[:5]}"
        )
    return {"entries": found.entries_checked, "accounts": found.accounts_checked}


def check_books(engine: Engine, load: Load, before: Snapshot) -> dict[str, int]:
    """Everything the clients were told against the database of the stopped server."""
    with engine.connect() as conn:
        figures = check_whole_entries(conn)
        figures |= _check_nothing_negative(conn)
        _check_answers_are_stored(conn, load)
        _check_exactly_once(conn, load, before)
        _check_acknowledged_rows(conn, [c for c in load.calls.values() if c.acknowledged])
        _check_counters(conn)
        figures |= _check_money_is_conserved(conn)
        figures["budget_cut_lines"] = _budget_cut_lines(conn)
    return figures


def _check_nothing_negative(conn: Connection) -> dict[str, int]:
    negative = conn.execute(
        select(accounts.c.code, accounts.c.balance).where(
            ~accounts.c.allow_negative, accounts.c.balance < 0
        )
    ).all()
    assert not negative, f"negative balances: {negative}"
    budgets = dict(
        conn.execute(
            select(accounts.c.code, accounts.c.balance).where(accounts.c.kind == "budget")
        ).all()
    )
    assert budgets and min(budgets.values()) >= 0, f"a budget below zero: {budgets}"
    return {"budgets_left_krw": sum(budgets.values())}


def _check_answers_are_stored(conn: Connection, load: Load) -> None:
    """Each key's deciding answers are all the same, exactly one of them was not a
    replay (when the first answer reached the client), and the server keeps under the
    key exactly what the client got."""
    stored = {
        row.key: row.result
        for row in conn.execute(
            select(idempotency_keys.c.key, idempotency_keys.c.result).where(
                idempotency_keys.c.key.like(f"{load.prefix}-%")
            )
        )
    }
    decided = {c.key: c for c in load.calls.values() if c.result is not None}
    assert set(stored) == set(decided), (
        f"stored without a deciding answer: {sorted(set(stored) - set(decided))[:5]}; "
        f"decided but not stored: {sorted(set(decided) - set(stored))[:5]}"
    )
    for key, call in decided.items():
        final = [a for a in call.answers if a.final]
        assert all((a.status, a.body) == (final[0].status, final[0].body) for a in final), (
            f"{key} ({call.kind}) got different answers: {final}"
        )
        fresh = [a for a in final if a.replayed == "false"]
        assert len(fresh) <= 1, f"{key} ({call.kind}) was applied {len(fresh)} times: {final}"
        if call.lost == 0 and call.undelivered == 0:
            assert len(fresh) == 1, f"{key} ({call.kind}): no first answer among {final}"
        assert _as_answer(stored[key]) == (final[0].status, final[0].body), (
            f"{key} ({call.kind}): stored {stored[key]}, answered {final[0]}"
        )


def _as_answer(stored: dict[str, Any]) -> tuple[int, Any]:
    """The answer the API gives for a stored result (status, JSON body): every money
    request of the load answers 201 on success."""
    if stored["ok"]:
        return 201, {k: v for k, v in stored.items() if k != "ok"}
    response = from_stored(stored)
    return response.status_code, json.loads(bytes(response.body))


def _check_exactly_once(conn: Connection, load: Load, before: Snapshot) -> None:
    """The rows made during the load are exactly those the acknowledged answers name."""
    after = _ids(conn)
    acknowledged: dict[str, set[str]] = defaultdict(set)
    for call in load.calls.values():
        result_id = call.result_id
        if result_id is not None:
            acknowledged[ENTRY_KIND[call.kind]].add(result_id)
    for name, ids in after.items():
        made = ids - before.ids[name]
        assert made == acknowledged[name], (
            f"{name}: made but never acknowledged {sorted(made - acknowledged[name])[:5]}; "
            f"acknowledged but not made {sorted(acknowledged[name] - made)[:5]}"
        )


def _check_acknowledged_rows(conn: Connection, calls: list[Call]) -> None:
    """Each acknowledged request's row holds what its answer said."""
    by_kind: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        by_kind[call.kind].append(call)
    pays = [c for k in PAYMENT_KINDS for c in by_kind[k]]
    if pays:
        _check_payments(conn, pays)
    simple = {
        "charge": (charges, "member_id"),
        "withdraw": (withdrawals, "member_id"),
        "donate": (donations, "member_id"),
        "group_donate": (donations, "group_id"),
        "contribute": (contributions, "member_id"),
        "refund": (refunds, "payment_id"),
    }
    for kind, (table, who) in simple.items():
        rows = {str(r.id): r for r in conn.execute(select(table))}
        for call in by_kind[kind]:
            assert call.result is not None and call.body is not None
            body = call.result.body
            row = rows.get(str(call.result_id))
            assert row is not None, f"{call.key} ({kind}) acknowledged {body}, no row"
            assert row.amount == call.body["amount"] == body["amount"], (call, row)
            # A member acts as itself; a group or a payment is named in the path.
            expected = call.login if who == "member_id" else call.path.split("/")[2]
            assert str(getattr(row, who)) == expected, (call, row)


def _check_payments(conn: Connection, calls: list[Call]) -> None:
    rows = {str(r.id): r for r in conn.execute(select(payments))}
    lines: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for ln in conn.execute(select(payment_lines)):
        lines[str(ln.payment_id)][ln.kind][ln.rule_id] = ln.amount
    for call in calls:
        assert call.result is not None and call.body is not None
        said = call.result.body
        row = rows.get(str(said["payment_id"]))
        assert row is not None, f"{call.key} ({call.kind}) acknowledged {said}, no payment"
        kept = {
            "amount": row.amount,
            "discount": row.discount,
            "coupon_off": row.coupon_off,
            "charged": row.charged,
            "from_cashback": row.from_cashback,
            "fee": row.fee,
            "cashback": lines[str(row.id)].get("cashback", {}),
            "fee_support": lines[str(row.id)].get("fee_support", {}),
        }
        assert kept == {k: said[k] for k in kept}, f"{call.key}: answered {said}, kept {kept}"
        if "amount" in call.body:
            assert row.amount == call.body["amount"], (call, row)
        if call.kind == "group_pay":
            assert (row.payer_kind, row.group_id) == ("group", call.path.split("/")[2]), row
        else:
            assert (row.payer_kind, row.member_id) == ("member", call.login), row
        channel = "qr" if call.kind == "pay_qr" else call.body.get("channel", "card")
        assert row.channel == channel, (call, row)


def _check_counters(conn: Connection) -> None:
    """Each member's counters for SPEC 3.11 equal a recount of its rows."""
    charged = dict(
        conn.execute(
            select(charges.c.member_id, func.sum(charges.c.amount)).group_by(charges.c.member_id)
        ).all()
    )
    spent: Counter[str] = Counter()
    for row in conn.execute(
        select(payments.c.member_id, payments.c.charged).where(payments.c.payer_kind == "member")
    ):
        spent[row.member_id] += row.charged
    refunded = conn.execute(
        select(payments.c.member_id, func.sum(refunds.c.amount))
        .select_from(refunds.join(payments, payments.c.id == refunds.c.payment_id))
        .where(payments.c.payer_kind == "member")
        .group_by(payments.c.member_id)
    ).all()
    for member_id, amount in refunded:
        spent[member_id] -= int(amount)
    for member in conn.execute(select(members.c.id, members.c.charged_total, members.c.spent_net)):
        assert member.charged_total == int(charged.get(member.id) or 0), member
        assert member.spent_net == spent[member.id], (member, spent[member.id])


def _check_money_is_conserved(conn: Connection) -> dict[str, int]:
    """What the platform's people hold equals what came in from banks, less what went
    back out, plus what public budgets paid them, less the fees the card network took:

        wallets + pools + campaigns + receivables + payouts
            = issuance - withdrawals + cashback + fee support - fees

    each term recounted from the operations' own rows (charges, withdrawals, payment
    lines and refunds), and each checked against the ledger accounts it moves."""
    by_kind: Counter[str] = Counter()
    by_code: dict[str, int] = {}
    for row in conn.execute(select(accounts.c.code, accounts.c.kind, accounts.c.balance)):
        by_kind[row.kind] += row.balance
        by_code[row.code] = row.balance
    unknown = set(by_kind) - {*HELD, *PUBLIC, *OUTSIDE}
    assert not unknown, f"accounts of kinds the identity does not place: {unknown}"

    def total(column: Any, *where: Any) -> int:
        return int(
            conn.execute(select(func.coalesce(func.sum(column), 0)).where(*where)).scalar_one()
        )

    issuance = total(charges.c.amount)
    withdrawn = total(withdrawals.c.amount)
    cashback = total(payment_lines.c.amount, payment_lines.c.kind == "cashback") - total(
        refunds.c.cashback_back
    )
    fee_support = total(payment_lines.c.amount, payment_lines.c.kind == "fee_support") - total(
        refunds.c.fee_support_back
    )
    fees = total(payments.c.fee) - total(refunds.c.fee_back)
    held = sum(by_kind[k] for k in HELD)
    assert by_code["external:bank"] == -(issuance - withdrawn), (by_code, issuance, withdrawn)
    assert by_code["external:fees"] == fees, (by_code["external:fees"], fees)
    assert sum(by_kind[k] for k in PUBLIC) == -(cashback + fee_support), (by_kind, cashback)
    assert held == issuance - withdrawn + cashback + fee_support - fees, (
        f"held {held} != issuance {issuance} - withdrawals {withdrawn} + cashback {cashback}"
        f" + fee support {fee_support} - fees {fees}"
    )
    return {
        "held_krw": held,
        "issuance_krw": issuance,
        "withdrawals_krw": withdrawn,
        "cashback_krw": cashback,
        "fee_support_krw": fee_support,
        "fees_krw": fees,
    }


def _budget_cut_lines(conn: Connection) -> int:
    """Rule lines of payments that got less than their rate because a budget ran dry."""
    cut = 0
    for ln in conn.execute(select(payment_lines)):
        if ln.amount < ln.qualifying * RATES[ln.rule_id] // 10_000:
            cut += 1
    return cut


def over_refunds(engine: Engine) -> list[tuple[str, int, int, int]]:
    """Payments refunded beyond what they charged, or whose running total of refunds
    differs from their refund rows: (id, charged, refunded column, sum of refunds)."""
    with engine.connect() as conn:
        summed = dict(
            conn.execute(
                select(refunds.c.payment_id, func.sum(refunds.c.amount)).group_by(
                    refunds.c.payment_id
                )
            ).all()
        )
        bad = []
        for row in conn.execute(select(payments.c.id, payments.c.charged, payments.c.refunded)):
            back = int(summed.get(row.id) or 0)
            if back > row.charged or back != row.refunded:
                bad.append((str(row.id), row.charged, row.refunded, back))
    return bad


def acknowledged_payments(calls: Iterable[Call]) -> Iterator[Call]:
    return (c for c in calls if c.kind in PAYMENT_KINDS and c.acknowledged)


def stored_payments(engine: Engine, payment_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """The amounts kept for these payments, by id (a missing payment is left out)."""
    wanted = {int(i) for i in payment_ids}
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                payments.c.id,
                payments.c.amount,
                payments.c.discount,
                payments.c.charged,
                payments.c.from_cashback,
                payments.c.fee,
            )
        ).all()
    return {
        str(r.id): {
            "amount": r.amount,
            "discount": r.discount,
            "charged": r.charged,
            "from_cashback": r.from_cashback,
            "fee": r.fee,
        }
        for r in rows
        if r.id in wanted
    }
