"""Crash-safe file writes and cross-process locks.

Readers of the workspace never see a half-written file: every file is written to a
temporary name beside its target, flushed to disk, then renamed over the target
(``os.replace`` is atomic on POSIX), and the directory entry is flushed too.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hitl_core.errors import Busy


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename or create inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file.

    ``durable=False`` skips the two fsyncs: the replacement is still atomic for every
    reader and survives a process crash, but a power cut may bring back the old file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any, durable: bool = True, compact: bool = False) -> None:
    """Write ``obj`` as JSON, atomically (see :func:`atomic_write_bytes`); indented unless ``compact``."""
    text = json.dumps(obj, sort_keys=True, default=str, **({"separators": (",", ":")} if compact else {"indent": 2}))
    atomic_write_bytes(path, (text + "\n").encode(), durable)


@functools.cache
def boot_id() -> str:
    """This boot of the machine ("" where the OS does not say): a new value means a restart."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@contextlib.contextmanager
def exclusive(lock_path: Path, *, wait: float = -1, busy_message: str | None = None) -> Iterator[None]:
    """Hold an exclusive cross-process lock on ``lock_path``.

    ``wait`` < 0 blocks until the lock is free; otherwise give up after ``wait``
    seconds and raise :class:`Busy` with ``busy_message``. The lock is the OS's
    ``flock`` on a file opened for this acquisition, so a process that dies releases
    it, and threads of one process exclude each other too. (The ``filelock`` package
    does the same with ~0.8 ms of bookkeeping per acquisition, ~8% of a Monitor
    refresh, which takes one lock per tick.)
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if wait < 0 else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(busy_message or f"{Path(lock_path).name} is held by another process") from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
