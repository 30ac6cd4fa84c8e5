"""Versioned model artifacts with a JSON sidecar, an atomic "current" pointer, rollback.

Layout under the workspace's ``artifacts/models``::

    v0001/base.joblib         the classifier trained on the base data alone (see hitl_core.models)
    v0001/adjusted.joblib     the classifier trained with the verdicts (absent while there are none)
    v0001/detector.joblib     the fitted NoveltyDetector
    v0001/labels.parquet      the expert labels this version was trained with
    v0001/meta.json           the sidecar: library versions, features, training-data
                              fingerprint, metrics, gate decision, sha256 of each file
    current.json              {"version": N, ...}: replaced atomically on every switch
    pointer.jsonl             one line per switch (promotion, rollback), for the record

A version folder is assembled under a temporary name and renamed into place, so it
appears complete or not at all, and is never modified afterwards. Loading a version
checks every file against the sha256 in its sidecar and refuses a mismatch.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

from hitl_core.durable import atomic_write_bytes, atomic_write_json, exclusive, fsync_dir, read_json
from hitl_core.errors import IntegrityError, InvalidInput, NotReady
from hitl_core.models import ModelSet

PARTS = ("base", "adjusted", "detector")

_VERSION_DIR = re.compile(r"^v(\d{4,})$")
TRACKED_LIBRARIES = ("lightgbm", "scikit-learn", "numpy", "pandas", "pyarrow", "joblib", "scipy")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions[name] = "missing"
    return versions


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ModelBundle:
    """One loaded, verified version."""

    version: int
    meta: dict[str, Any]
    models: ModelSet
    warnings: list[str] = field(default_factory=list)


class ModelRegistry:
    """Immutable model versions under ``root`` and the pointer to the current one."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.pointer = self.root / "current.json"
        self.pointer_log = self.root / "pointer.jsonl"
        self._lock_path = self.root / "registry.lock"

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_path.touch(exist_ok=True)

    # -- listing -----------------------------------------------------------------------
    def version_numbers(self) -> list[int]:
        if not self.root.is_dir():
            return []
        found = (_VERSION_DIR.match(name) for name in os.listdir(self.root))
        return sorted(int(m.group(1)) for m in found if m)

    def folder(self, version: int) -> Path:
        return self.root / f"v{version:04d}"

    def meta(self, version: int) -> dict[str, Any]:
        path = self.folder(version) / "meta.json"
        if not path.exists():
            raise InvalidInput(f"there is no model version {version}; versions: {self._listing()}")
        return read_json(path)

    def versions(self) -> list[dict[str, Any]]:
        """Every version's sidecar, oldest first."""
        return [self.meta(v) for v in self.version_numbers()]

    def _listing(self) -> str:
        numbers = self.version_numbers()
        return ", ".join(str(v) for v in numbers) if numbers else "none yet"

    def current_version(self) -> int | None:
        if not self.pointer.exists():
            return None
        return int(read_json(self.pointer)["version"])

    # -- writing -----------------------------------------------------------------------
    def write(
        self,
        models: ModelSet,
        meta: dict[str, Any],
        extra_files: dict[str, bytes] | None = None,
    ) -> int:
        """Store a new immutable version; returns its number. Does not make it current."""
        with exclusive(self._lock_path, wait=60, busy_message="the model registry is busy"):
            version = (self.version_numbers() or [0])[-1] + 1
            staging = self.root / f".staging-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                files: dict[str, bytes] = dict(extra_files or {})
                for part in PARTS:
                    obj = getattr(models, part)
                    if obj is not None:
                        buffer = io.BytesIO()
                        joblib.dump(obj, buffer)
                        files[f"{part}.joblib"] = buffer.getvalue()
                for name, data in files.items():
                    atomic_write_bytes(staging / name, data)
                sidecar = {
                    **meta,
                    "version": version,
                    "created_at": datetime.now(UTC).isoformat(),
                    "libraries": library_versions(),
                    "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
                }
                atomic_write_json(staging / "meta.json", sidecar)
                os.rename(staging, self.folder(version))
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            fsync_dir(self.root)
            return version

    def set_current(self, version: int, reason: str) -> None:
        """Point "current" at ``version`` (atomic rename) and log the switch."""
        self.meta(version)  # must exist
        self.verify(version)
        with exclusive(self._lock_path, wait=60, busy_message="the model registry is busy"):
            previous = self.current_version()
            record = {
                "version": version,
                "previous": previous,
                "reason": reason,
                "switched_at": datetime.now(UTC).isoformat(),
            }
            atomic_write_json(self.pointer, record)
            with open(self.pointer_log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def switches(self) -> list[dict[str, Any]]:
        """Every pointer switch, oldest first."""
        if not self.pointer_log.exists():
            return []
        with open(self.pointer_log, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip().endswith("}")]

    # -- loading -----------------------------------------------------------------------
    def verify(self, version: int) -> dict[str, Any]:
        """Check every file of ``version`` against its recorded sha256; returns the sidecar."""
        meta = self.meta(version)
        folder = self.folder(version)
        for name, expected in meta.get("files", {}).items():
            path = folder / name
            if not path.exists():
                raise IntegrityError(f"model version {version} is incomplete: {name} is missing")
            actual = sha256_file(path)
            if actual != expected:
                raise IntegrityError(
                    f"model version {version}: {name} does not match the sha256 recorded when it was written "
                    f"(expected {expected[:12]}…, found {actual[:12]}…); the file was changed or damaged, "
                    "so it is not loaded. Roll back to another version or retrain."
                )
        return meta

    def load(self, version: int | None = None) -> ModelBundle:
        """Load and verify ``version`` (default: the current one)."""
        if version is None:
            version = self.current_version()
            if version is None:
                raise NotReady("no model has been trained in this workspace yet")
        meta = self.verify(version)
        folder = self.folder(version)
        parts = {p: joblib.load(folder / f"{p}.joblib") if f"{p}.joblib" in meta["files"] else None for p in PARTS}
        if parts["detector"] is None:
            raise IntegrityError(f"model version {version} has no detector")
        warnings = [
            f"{lib} {recorded} wrote version {version}; {now} is installed"
            for lib, now in library_versions().items()
            if lib != "python" and (recorded := meta.get("libraries", {}).get(lib)) not in (None, now)
        ]
        return ModelBundle(version, meta, ModelSet(**parts), warnings)
