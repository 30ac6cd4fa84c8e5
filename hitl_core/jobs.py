"""Long work that runs on its own, apart from whoever asked for it.

A browser session that starts the first-run setup may close its tab, lose its
connection or be stopped by Streamlit at any moment; the setup must still run to its
end, exactly once. A :class:`Job` runs its work on a thread of the process (not of a
session), keeps its progress, outcome and error, and any number of sessions can
watch it. :class:`JobBoard` starts at most one job per name at a time: a second
request for a running job gets the same job back.

>>> board = JobBoard()
>>> job = board.start("add", lambda progress: (progress(0.5, "half way"), 1 + 1)[1])
>>> job.wait(5)
True
>>> job.result, job.error
(2, None)
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

Progress = Callable[[float, str], None]
Work = Callable[[Progress], Any]


class Job:
    """One piece of work on a background thread, with its progress and outcome."""

    def __init__(self, name: str, work: Work) -> None:
        self.name = name
        self._work = work
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._progress: tuple[float, str] = (0.0, "Starting…")
        self.result: Any = None
        self.error: BaseException | None = None
        self.trace: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"hitl-job-{name}", daemon=True)

    def start(self) -> Job:
        self._thread.start()
        return self

    def _report(self, fraction: float, message: str) -> None:
        with self._lock:
            self._progress = (min(1.0, max(0.0, float(fraction))), message)

    def _run(self) -> None:
        try:
            self.result = self._work(self._report)
        except BaseException as exc:  # kept for whoever watches; the thread must not die silently
            self.error = exc
            self.trace = traceback.format_exc()
        finally:
            self._done.set()

    @property
    def progress(self) -> tuple[float, str]:
        """The latest (fraction, message) the work reported."""
        with self._lock:
            return self._progress

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; True once the job has finished (either way)."""
        return self._done.wait(timeout)


class JobBoard:
    """The jobs of one process, at most one running per name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def start(self, name: str, work: Work) -> Job:
        """Start ``work`` under ``name``, unless a job of that name is still running:
        then that job is returned and ``work`` is not run."""
        with self._lock:
            job = self._jobs.get(name)
            if job is not None and not job.done:
                return job
            job = Job(name, work)
            self._jobs[name] = job
            return job.start()

    def get(self, name: str) -> Job | None:
        with self._lock:
            return self._jobs.get(name)
