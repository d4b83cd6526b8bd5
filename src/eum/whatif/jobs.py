"""What-if runs started from the admin pages: each in a thread of its own, its progress
and its report kept in memory for the admin who started it.

A run reads the live database and writes only its own sandbox, so it can run beside
the payments; it takes a core for its length, so at most ``MAX_RUNNING`` run at once
(more are refused with a message to try again) and the newest ``MAX_KEPT`` are kept.
Runs live in the server process: a restart forgets them (the report is also offered as
JSON to keep).
"""

from __future__ import annotations

import secrets
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eum import errors
from eum.clock import now

MAX_RUNNING = 1
MAX_KEPT = 50
MAX_LINES = 200


@dataclass
class Job:
    id: str
    owner: str
    title: str
    started: datetime
    status: str = "running"  # running | done | failed
    lines: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    error: str | None = None
    finished: datetime | None = None

    def say(self, line: str) -> None:
        self.lines.append(line)
        del self.lines[:-MAX_LINES]


class Jobs:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, owner: str, title: str, work: Callable[[Job], dict[str, Any]]) -> Job:
        """Run ``work(job)`` in a thread; its result becomes the job's report."""
        with self._lock:
            if sum(j.status == "running" for j in self._jobs.values()) >= MAX_RUNNING:
                raise errors.Overloaded("a what-if run is already going: try again when it ends")
            job = Job(secrets.token_urlsafe(9), owner, title, now())
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_KEPT:
                self._jobs.popitem(last=False)

        def run() -> None:
            try:
                job.report = work(job)
                job.status = "done"
            except errors.EumError as exc:
                job.error, job.status = exc.detail, "failed"
            except Exception as exc:  # the page says it failed; the log says why
                traceback.print_exc()
                job.error, job.status = f"{type(exc).__name__}: {exc}", "failed"
            finally:
                job.finished = now()

        threading.Thread(target=run, name=f"whatif-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        """The run, for the one who started it only."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    def of(self, owner: str) -> list[Job]:
        return [j for j in reversed(self._jobs.values()) if j.owner == owner]


jobs = Jobs()
