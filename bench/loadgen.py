"""Closed-loop HTTP/1.1 load generator (standard library only).

One asyncio coroutine drives each keep-alive connection: it sends a request, waits for the
complete response, records the latency and sends the next one. The socket I/O goes through a
small ``asyncio.Protocol`` with an incremental response parser, which is several times cheaper
per request than ``http.client`` or ``asyncio`` streams, so one Python process can push a local
server to several thousand requests per second.

Library use::

    result = asyncio.run(run_load("127.0.0.1", 8000, 64, 30.0, make_request))
    print(result.rps, result.p99_ms)

``make_request(connection_index, sequence_number)`` returns ``(path, headers, body)``. The
sequence number is global to the run (0, 1, 2, ... in issue order across all connections), so
it can be used to build unique idempotency keys or to spread requests over a list of values.

Command line::

    python bench/loadgen.py --host 127.0.0.1 --port 8000 --connections 64 --duration 30 \\
        --path /api/v1/payments --token TOKEN --body-json '{"merchant":"m-1","amount":10000}'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RequestFactory = Callable[[int, int], tuple[str, dict[str, str], bytes]]

_NO_BODY_STATUSES = frozenset({204, 304})
_MAX_HEADER_BYTES = 64 * 1024


class HTTPProtocolError(Exception):
    """The server sent something this client cannot parse as an HTTP/1.1 response."""


@dataclass
class LoadResult:
    """Figures for the measurement window (after warm-up, up to the end of the duration).

    ``requests``, ``statuses`` and the latency figures cover responses that completed inside
    the window; ``errors`` counts every connection failure (refused, reset, timeout, unparsable
    response) over the whole run, warm-up included, so startup problems are not hidden.
    Percentiles use the nearest-rank method over every recorded latency.
    """

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Exact nearest-rank percentile of an already sorted sequence (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class _ResponseParser:
    """Incremental parser for one HTTP/1.1 response at a time (no pipelining)."""

    __slots__ = (
        "_body_start",
        "_buf",
        "_chunk_pos",
        "_chunked",
        "_content_length",
        "_headers_done",
        "_until_eof",
        "close_after",
        "status",
    )

    def __init__(self) -> None:
        self._buf = bytearray()
        self._reset()

    def _reset(self) -> None:
        self._headers_done = False
        self._body_start = 0
        self._content_length = -1
        self._chunked = False
        self._chunk_pos = 0
        self._until_eof = False
        self.status = 0
        self.close_after = False

    def feed(self, data: bytes) -> bool:
        """Add received bytes; return True once a complete response is buffered."""
        self._buf += data
        return self._try_complete()

    def feed_eof(self) -> bool:
        """The peer closed; return True if that completes a read-until-close body."""
        if self._headers_done and self._until_eof:
            self.close_after = True
            return True
        return False

    def _try_complete(self) -> bool:
        while not self._headers_done:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > _MAX_HEADER_BYTES:
                    raise HTTPProtocolError("response header too large")
                return False
            self._parse_head(bytes(self._buf[:end]))
            if 100 <= self.status < 200:
                # Interim response (e.g. 100 Continue): drop it, the real one follows.
                del self._buf[: end + 4]
                self._reset()
                continue
            self._headers_done = True
            self._body_start = end + 4
            self._chunk_pos = self._body_start
        if self._until_eof:
            return False
        if self._chunked:
            return self._scan_chunks()
        return len(self._buf) - self._body_start >= self._content_length

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        status_line = lines[0]
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise HTTPProtocolError(f"bad status line: {status_line[:80]!r}")
        try:
            self.status = int(parts[1])
        except ValueError:
            raise HTTPProtocolError(f"bad status code: {status_line[:80]!r}") from None
        http10 = parts[0] == b"HTTP/1.0"
        keep_alive_header = False
        content_length = -1
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    content_length = int(value.strip())
                except ValueError:
                    raise HTTPProtocolError("bad Content-Length") from None
            elif name == b"transfer-encoding":
                if b"chunked" in value.lower():
                    self._chunked = True
            elif name == b"connection":
                tokens = value.lower()
                if b"close" in tokens:
                    self.close_after = True
                elif b"keep-alive" in tokens:
                    keep_alive_header = True
        if http10 and not keep_alive_header:
            self.close_after = True
        if self.status in _NO_BODY_STATUSES:
            self._chunked = False
            self._content_length = 0
        elif self._chunked:
            self._content_length = -1
        elif content_length >= 0:
            self._content_length = content_length
        else:
            self._until_eof = True
            self.close_after = True

    def _scan_chunks(self) -> bool:
        buf = self._buf
        pos = self._chunk_pos
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                self._chunk_pos = pos
                return False
            size_field = bytes(buf[pos:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_field, 16)
            except ValueError:
                raise HTTPProtocolError(f"bad chunk size: {size_field[:20]!r}") from None
            if size == 0:
                # Last chunk: optional trailer fields, then an empty line.
                trailer_pos = line_end + 2
                while True:
                    trailer_end = buf.find(b"\r\n", trailer_pos)
                    if trailer_end < 0:
                        self._chunk_pos = pos
                        return False
                    if trailer_end == trailer_pos:
                        self._content_length = trailer_end + 2 - self._body_start
                        return True
                    trailer_pos = trailer_end + 2
            chunk_end = line_end + 2 + size + 2
            if len(buf) < chunk_end:
                self._chunk_pos = pos
                return False
            pos = chunk_end

    def take_response(self) -> int:
        """Discard the completed response from the buffer and return its status code."""
        status = self.status
        if self._until_eof:
            self._buf.clear()
        else:
            del self._buf[: self._body_start + self._content_length]
        self._reset()
        return status


class _ClientProtocol(asyncio.Protocol):
    """Feeds received bytes to the parser and resolves one future per response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = _ResponseParser()
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.closed = False
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def request(self, payload: bytes) -> asyncio.Future[tuple[int, bool]]:
        """Send one request; the future yields (status, server_wants_close)."""
        assert self.transport is not None
        waiter: asyncio.Future[tuple[int, bool]] = self._loop.create_future()
        self.waiter = waiter
        self.transport.write(payload)
        return waiter

    def data_received(self, data: bytes) -> None:
        try:
            complete = self.parser.feed(data)
        except HTTPProtocolError as exc:
            self._fail(exc)
            return
        if complete:
            self._resolve()

    def eof_received(self) -> bool | None:
        if self.parser.feed_eof():
            self._resolve()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.parser.feed_eof():
            self._resolve()
        else:
            self._fail(exc or ConnectionResetError("connection closed by server"))

    def _resolve(self) -> None:
        close_after = self.parser.close_after
        status = self.parser.take_response()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, close_after))

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()


def encode_request(
    method: str, host_header: str, path: str, headers: dict[str, str], body: bytes
) -> bytes:
    """Serialise one HTTP/1.1 request; Host and Content-Length are added unless given."""
    lines = [f"{method} {path} HTTP/1.1"]
    lowered = {name.lower() for name in headers}
    if "host" not in lowered:
        lines.append(f"Host: {host_header}")
    if "content-length" not in lowered:
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1") + body


class _Run:
    """Shared state of one load run (single event loop, so no locking needed)."""

    def __init__(
        self,
        host: str,
        port: int,
        make_request: RequestFactory,
        measure_start: float,
        measure_end: float,
        request_timeout_s: float,
    ) -> None:
        self.host = host
        self.port = port
        self.host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.make_request = make_request
        self.measure_start = measure_start
        self.measure_end = measure_end
        self.request_timeout_s = request_timeout_s
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.sequence = 0

    async def connect(self) -> _ClientProtocol:
        loop = asyncio.get_running_loop()
        _, protocol = await asyncio.wait_for(
            loop.create_connection(_ClientProtocol, self.host, self.port),
            self.request_timeout_s,
        )
        return protocol

    async def worker(self, index: int) -> None:
        perf = time.perf_counter
        measure_start = self.measure_start
        measure_end = self.measure_end
        latencies = self.latencies
        statuses = self.statuses
        timeout = self.request_timeout_s
        conn: _ClientProtocol | None = None
        try:
            while perf() < measure_end:
                if conn is None or conn.closed:
                    try:
                        conn = await self.connect()
                    except (TimeoutError, OSError):
                        self.errors += 1
                        conn = None
                        await asyncio.sleep(min(0.05, max(0.0, measure_end - perf())))
                        continue
                seq = self.sequence
                self.sequence = seq + 1
                path, headers, body = self.make_request(index, seq)
                payload = encode_request("POST", self.host_header, path, headers, body)
                started = perf()
                try:
                    status, close_after = await asyncio.wait_for(conn.request(payload), timeout)
                except (TimeoutError, OSError, HTTPProtocolError):
                    self.errors += 1
                    conn.close()
                    conn = None
                    continue
                finished = perf()
                if measure_start <= finished <= measure_end:
                    latencies.append(finished - started)
                    statuses[status] = statuses.get(status, 0) + 1
                if close_after:
                    conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()


async def run_load(
    host: str,
    port: int,
    connections: int,
    duration_s: float,
    make_request: RequestFactory,
    warmup_s: float = 2.0,
    request_timeout_s: float = 30.0,
) -> LoadResult:
    """Drive ``connections`` closed-loop keep-alive connections with POST requests.

    The run lasts ``warmup_s + duration_s``; only responses that complete within the final
    ``duration_s`` are measured. No request is issued after the end; requests still in flight
    then are given up to ``request_timeout_s`` to finish (not counted) before being cancelled.
    """
    if connections < 1:
        raise ValueError("connections must be >= 1")
    if duration_s <= 0:
        raise ValueError("duration_s must be > 0")
    start = time.perf_counter()
    measure_start = start + max(0.0, warmup_s)
    measure_end = measure_start + duration_s
    run = _Run(host, port, make_request, measure_start, measure_end, request_timeout_s)
    tasks = [asyncio.create_task(run.worker(i)) for i in range(connections)]
    grace = max(0.0, measure_end - time.perf_counter()) + request_timeout_s + 1.0
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in results:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome

    latencies_ms = sorted(value * 1000.0 for value in run.latencies)
    count = len(latencies_ms)
    return LoadResult(
        requests=count,
        seconds=round(duration_s, 3),
        rps=round(count / duration_s, 1),
        p50_ms=round(percentile(latencies_ms, 50), 3),
        p90_ms=round(percentile(latencies_ms, 90), 3),
        p99_ms=round(percentile(latencies_ms, 99), 3),
        max_ms=round(latencies_ms[-1], 3) if latencies_ms else 0.0,
        mean_ms=round(sum(latencies_ms) / count, 3) if count else 0.0,
        statuses=dict(sorted(run.statuses.items())),
        errors=run.errors,
    )


def json_post_factory(
    path: str,
    body: dict[str, Any],
    tokens: Sequence[str] = (),
    merchants: Sequence[str] = (),
    merchant_field: str = "merchant",
) -> RequestFactory:
    """Factory for JSON POSTs with a bearer token and a unique Idempotency-Key per request.

    Connection ``i`` uses ``tokens[i % len(tokens)]``; request ``k`` (global sequence number)
    sends ``body`` with ``body[merchant_field] = merchants[k % len(merchants)]``.
    """
    if merchants:
        bodies = [
            json.dumps({**body, merchant_field: merchant}, separators=(",", ":")).encode()
            for merchant in merchants
        ]
    else:
        bodies = [json.dumps(body, separators=(",", ":")).encode()]
    auth = [f"Bearer {token}" for token in tokens]
    key_prefix = uuid.uuid4().hex[:16]

    def make_request(
        connection_index: int, sequence_number: int
    ) -> tuple[str, dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"lg-{key_prefix}-{sequence_number}",
        }
        if auth:
            headers["Authorization"] = auth[connection_index % len(auth)]
        return path, headers, bodies[sequence_number % len(bodies)]

    return make_request


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Closed-loop HTTP/1.1 POST load generator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout (s)")
    parser.add_argument("--path", default="/api/v1/payments")
    parser.add_argument("--token", action="append", default=[], help="bearer token (repeatable)")
    parser.add_argument("--tokens-file", type=Path, help="one token per line")
    parser.add_argument("--body-json", default="{}", help="JSON object sent as the body")
    parser.add_argument("--merchants", default="", help="comma list; request k uses k %% len")
    parser.add_argument("--merchant-field", default="merchant", help="body field for --merchants")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    tokens = list(args.token)
    if args.tokens_file is not None:
        lines = args.tokens_file.read_text(encoding="utf-8").splitlines()
        tokens.extend(line.strip() for line in lines if line.strip())
    body = json.loads(args.body_json)
    if not isinstance(body, dict):
        print("--body-json must be a JSON object", file=sys.stderr)
        return 2
    merchants = [item.strip() for item in args.merchants.split(",") if item.strip()]
    factory = json_post_factory(args.path, body, tokens, merchants, args.merchant_field)
    result = asyncio.run(
        run_load(
            args.host,
            args.port,
            args.connections,
            args.duration,
            factory,
            warmup_s=args.warmup,
            request_timeout_s=args.timeout,
        )
    )
    print(json.dumps(result.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
