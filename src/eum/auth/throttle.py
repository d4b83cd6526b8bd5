"""Sign-in rate limiting per client address, beside the per-account lockout: one address
trying many logins (or one login many times) is slowed down before it can guess
passwords or lock other people out.

A sliding window in memory, per server process: enough for one server; several servers
behind a balancer each keep their own window (the account lockout, kept in the database,
still holds across them).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from eum import errors
from eum.config import settings

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 100_000  # beyond this the oldest windows are forgotten


class LoginThrottle:
    """At most ``limit`` attempts per address in any ``window`` seconds."""

    def __init__(self, limit: int | None = None, window: float = WINDOW_SECONDS) -> None:
        self._limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit if self._limit is not None else settings().login_attempts_per_minute

    @limit.setter
    def limit(self, value: int | None) -> None:
        """A fixed limit (None: the setting again)."""
        self._limit = value

    def attempt(self, address: str | None, at: float | None = None) -> None:
        """Count an attempt from ``address``; ``too_many_attempts`` (429) when it is over
        the limit (the refused attempt is not counted)."""
        clock = time.monotonic() if at is None else at
        key = address or "unknown"
        with self._lock:
            times = self._seen.get(key)
            if times is None:
                if len(self._seen) >= MAX_ADDRESSES:
                    self._seen.pop(next(iter(self._seen)))
                times = self._seen[key] = deque()
            while times and times[0] <= clock - self.window:
                times.popleft()
            if len(times) >= self.limit:
                raise errors.TooManyAttempts(field="login")
            times.append(clock)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


logins = LoginThrottle()
