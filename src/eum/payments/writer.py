"""The payment writer in an OS process of its own, behind the payment engine's interface.

Inside the server the writer thread of ``PaymentEngine`` shares the GIL with the request
handlers. ``ProcessPaymentEngine`` keeps the same queue, entry points and answers, but
books in a child process: a fresh interpreter, as the "spawn" start method makes (the
server has threads, so no fork), which opens its own database engine from the URL:

- in the server, a feeder thread takes the next batch as the thread writer would (up to
  a batch size; round the districts' lanes under load), sends it through a pipe and
  keeps at most ``max_in_flight`` batches there, so that the child finds the next batch
  waiting when it finishes one; a reader thread per child receives each batch's outcomes
  (in the order the batches were sent), resolves the futures, then looks up the
  districts of merchants the engine did not know;
- the child books each batch with ``commit_batch`` (one transaction, and one by one when
  it fails) and answers only after the commit.

If the child dies, the payments it held get ``PaymentPending`` (they may or may not have
committed: a retry with the same idempotency key tells) and a new child takes over.
``close`` commits what is queued, then stops the child.

A database the child cannot open by URL (in-memory SQLite) keeps the thread writer.
"""

from __future__ import annotations

import logging
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import Engine

from eum import errors
from eum.db import make_engine
from eum.payments.engine import (
    Item,
    PaymentEngine,
    commit_batch,
    resolve,
)

log = logging.getLogger(__name__)

WRITERS = ("thread", "process")
MAX_IN_FLIGHT = 2
STOP_TIMEOUT_SECONDS = 30.0


def make_payment_engine(engine: Engine, writer: str = "thread", **kwargs: Any) -> PaymentEngine:
    """The payment engine for ``engine`` with the named writer (``thread`` or
    ``process``); ``process`` falls back to the thread on a database that another
    process cannot open (in-memory SQLite)."""
    if writer not in WRITERS:
        raise ValueError(f"payment writer must be one of {WRITERS}, not {writer!r}")
    if writer == "process" and shareable(engine):
        return ProcessPaymentEngine(engine, **kwargs)
    return PaymentEngine(engine, **kwargs)


def shareable(engine: Engine) -> bool:
    """Whether another process can open the same database from the engine's URL."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return True
    database = url.database or ""
    return database not in ("", ":memory:") and "mode=memory" not in str(url)


# The child's first lines: the server's import path (as "spawn" passes it), then the rest.
_BOOTSTRAP = (
    "import pickle, sys; from multiprocessing.connection import Connection; "
    "conn = Connection(int(sys.argv[1])); sys.path[:] = pickle.loads(conn.recv_bytes()); "
    "from eum.payments.writer import child_main; child_main(conn)"
)


class _Child:
    """One writer process, the server's end of its pipe, and the batches it holds.

    The child is a fresh interpreter, as the "spawn" start method makes, but it does not
    re-run the server's main module: it shares only a socket pair with the server and
    receives the import path, then the database URL (so no password shows in the
    process list), then batches.
    """

    def __init__(self, url: str) -> None:
        here, there = socket.socketpair()
        with here, there:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, str(there.fileno())],
                pass_fds=(there.fileno(),),
                stdin=subprocess.DEVNULL,
            )
            # Only the child holds its end now: its death is an end of file here.
            self.conn = Connection(here.detach())
        self.in_flight: deque[list[Item]] = deque()
        self.answered = 0  # batches answered
        self.dead = False
        self.reader: threading.Thread | None = None
        with suppress(OSError):  # died at once: the reader finds out
            self.conn.send_bytes(pickle.dumps(sys.path))
            self.conn.send_bytes(url.encode())

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float) -> bool:
        """Whether the child exited within ``timeout`` seconds."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


class ProcessPaymentEngine(PaymentEngine):
    """``PaymentEngine`` whose batches are booked in a child process."""

    writer = "process"

    def __init__(
        self, engine: Engine, *, max_in_flight: int = MAX_IN_FLIGHT, **options: Any
    ) -> None:
        """``options`` are ``PaymentEngine``'s (batch and queue sizes, autostart)."""
        super().__init__(engine, **options)
        if not shareable(engine):
            raise ValueError("the process writer needs a database another process can open")
        self.url = engine.url.render_as_string(hide_password=False)
        self.max_in_flight = max_in_flight
        self._slots = threading.Semaphore(max_in_flight)  # one per batch in the child
        self._state = threading.Lock()  # guards _child, _closing and the counters
        self._child: _Child | None = None
        self._closing = False
        self.restarts = 0  # children started after one died

    # --- the feeder -----------------------------------------------------------------

    def start(self) -> None:
        """Start the child and the feeder (``submit`` does it unless ``autostart`` is off)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                with self._state:
                    self._closing = False
                    if self._child is None:
                        self._child = self._spawn()
                self._launch("eum-payment-feeder")

    @property
    def writer_pid(self) -> int | None:
        """The child's process id (None before it started)."""
        child = self._child
        return child.pid if child is not None else None

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "writer_pid": self.writer_pid, "restarts": self.restarts}

    def _run(self, stop: threading.Event) -> None:
        while True:
            self._slots.acquire()  # a batch is taken only when the child has room for it
            batch = self._take(stop)
            if batch is None:
                self._slots.release()
                break
            self._send(batch)
        self._stop_child()

    def _send(self, batch: list[Item]) -> None:
        data, batch = _pickled(batch)
        if not batch:
            self._slots.release()
            return
        try:
            with self._state:
                child = self._child
                if child is None or child.dead:
                    if child is not None:
                        self.restarts += 1
                    child = self._child = self._spawn()
                child.in_flight.append(batch)
        except Exception:
            log.exception("cannot start a payment writer process")
            _pending(batch)
            self._slots.release()
            return
        try:
            child.conn.send_bytes(data)
        except (OSError, ValueError):
            # The child died; its reader sees the end of the pipe and answers
            # PaymentPending for what it held, this batch included.
            log.warning("the payment writer process is gone (pid %s)", child.pid)

    def _stop_child(self) -> None:
        """Once every batch sent is answered, stop the child (``close``)."""
        for _ in range(self.max_in_flight):
            self._slots.acquire()
        with self._state:
            self._closing = True
            child, self._child = self._child, None
        for _ in range(self.max_in_flight):
            self._slots.release()
        if child is None:
            return
        with suppress(OSError, ValueError):  # already gone: nothing to stop
            child.conn.send_bytes(pickle.dumps(None))
        if not child.wait(STOP_TIMEOUT_SECONDS):
            log.error("the payment writer process did not stop: killing it")
            child.process.kill()
            child.process.wait()
        if child.reader is not None:
            child.reader.join()
        child.conn.close()

    # --- children -------------------------------------------------------------------

    def _spawn(self) -> _Child:
        """Start a child and its reader; called with ``_state`` held."""
        child = _Child(self.url)
        child.reader = threading.Thread(
            target=self._read, args=(child,), name="eum-payment-reader", daemon=True
        )
        child.reader.start()
        return child

    def _read(self, child: _Child) -> None:
        """Answer each batch the child commits, in order, until the child is gone."""
        while True:
            try:
                data = child.conn.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                outcomes, transactions, paid, busy = pickle.loads(data)
                with self._state:
                    batch = child.in_flight.popleft()
                    child.answered += 1
                    self.batches += transactions
                    self.payments += paid
                    self.busy_seconds += busy
                resolve([f for _, f in batch], outcomes)
            except Exception:
                log.exception("unreadable answer from the payment writer: killing it")
                child.process.kill()
                break
            self._slots.release()
            self._learn([r for r, _ in batch])
        self._buried(child)

    def _buried(self, child: _Child) -> None:
        """The child is gone: what it held may or may not have committed. A child that
        worked is replaced at once; one that never answered (it may fail at start up
        again) only when the next batch comes."""
        with self._state:
            child.dead = True
            lost = list(child.in_flight)
            child.in_flight.clear()
            if self._child is child and not self._closing and child.answered:
                self.restarts += 1
                try:
                    self._child = self._spawn()
                except Exception:
                    log.exception("cannot start a payment writer process")
        # The pipe closes with the last reference to the child: the feeder may still be
        # writing to it, and a descriptor closed under it could be a new child's.
        child.wait(STOP_TIMEOUT_SECONDS)
        if lost:
            log.error(
                "the payment writer process died (exit code %s) holding %d payments: "
                "answered payment_pending",
                child.process.returncode,
                sum(len(b) for b in lost),
            )
        for batch in lost:
            _pending(batch)
            self._slots.release()


def _pending(batch: list[Item]) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(errors.PaymentPending())


def _pickled(batch: list[Item]) -> tuple[bytes, list[Item]]:
    """The batch's requests as bytes for the pipe; a request that does not pickle fails
    alone and is left out."""
    try:
        return pickle.dumps([r for r, _ in batch], pickle.HIGHEST_PROTOCOL), batch
    except Exception:
        kept = []
        for request, future in batch:
            try:
                pickle.dumps(request)
            except Exception as exc:
                future.set_exception(exc)
            else:
                kept.append((request, future))
        return pickle.dumps([r for r, _ in kept], pickle.HIGHEST_PROTOCOL), kept


# --- the child ----------------------------------------------------------------------


def child_main(conn: Connection) -> None:
    """The writer process (after ``_BOOTSTRAP`` set its import path): the database URL
    first, then book each batch received and answer after its commit; stop on ``None``
    or when the server's end closes."""
    # Ctrl-C reaches the whole process group: the server drains the queue and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        url = conn.recv_bytes().decode()
    except EOFError:
        return
    engine = make_engine(url, pool_size=1, max_overflow=1)
    try:
        while True:
            try:
                requests = pickle.loads(conn.recv_bytes())
            except EOFError:
                return
            if requests is None:
                return
            started = time.perf_counter()
            done = commit_batch(engine, requests)
            busy = time.perf_counter() - started
            outcomes = [_portable(o) if isinstance(o, Exception) else o for o in done.outcomes]
            answer = (outcomes, done.transactions, done.payments, busy)
            data = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
            try:
                conn.send_bytes(data)
            except OSError:
                return  # the server is gone
    finally:
        engine.dispose()


def _portable(error: Exception) -> Exception:
    """An exception the server can unpickle: one that cannot becomes a RuntimeError."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
