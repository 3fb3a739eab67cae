"""The release journal: each package's state, with hashes, so an interrupted release resumes.

A package moves through ``planned → built → checked → uploaded → verified → tagged``; every
move is written to ``.release/journal.json`` (atomically) before the next step starts. The
journal also records the commit the release started from and the release commit it made.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._errors import ReleaseError

STATES = ("planned", "built", "checked", "uploaded", "verified", "tagged")
SCHEMA = 1
_WRITE = threading.Lock()  # verifications run in threads and advance the journal


def now() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class PackageRecord:
    """One package of a release, as far as it got."""

    name: str
    folder: str
    previous: str
    version: str
    bump: str
    order: int
    why: str
    pins: dict[str, str] = field(default_factory=dict)
    state: str = "planned"
    files: dict[str, str] = field(default_factory=dict)
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    proof: dict[str, Any] = field(default_factory=dict)
    tag: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)

    def reached(self, state: str) -> bool:
        """Whether the package is at ``state`` or past it."""
        return STATES.index(self.state) >= STATES.index(state)


@dataclass
class Journal:
    """The state of one release; see the module docstring."""

    path: Path
    id: str
    base_commit: str
    status: str = "in-progress"
    release_commit: str | None = None
    index: str = ""
    created: str = field(default_factory=now)
    packages: list[PackageRecord] = field(default_factory=list)

    def package(self, name: str) -> PackageRecord:
        return next(p for p in self.packages if p.name == name)

    def advance(self, name: str, state: str, *, force: bool = False, **data: Any) -> None:
        """Move package ``name`` to ``state`` (recording ``data`` on it) and save.

        A package never moves back unless ``force`` (a rebuild before the upload).
        """
        with _WRITE:
            record = self.package(name)
            for key, value in data.items():
                setattr(record, key, value)
            if force or STATES.index(state) > STATES.index(record.state):
                record.state = state
                record.history.append({"state": state, "at": now()})
            self._write()

    def summary(self) -> str:
        """One line per package: name, version and state."""
        return "\n".join(
            f"  {p.order}. {p.name} {p.previous} -> {p.version}: {p.state}" for p in self.packages
        )

    def save(self) -> None:
        """Write the journal atomically and durably (see :func:`write_durably`)."""
        with _WRITE:
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        data["schema"] = SCHEMA
        write_durably(self.path, json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        """The journal at ``path``, or ``None`` if there is none.

        :raises ReleaseError: the file is not a journal this version understands.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            raise ReleaseError(
                f"{path} is not valid JSON ({exc}); move it aside to start a new release"
            ) from exc
        if data.pop("schema", None) != SCHEMA:
            raise ReleaseError(f"{path} was written by another version of the release tooling")
        packages = [PackageRecord(**p) for p in data.pop("packages")]
        return cls(path=path, packages=packages, **data)

    def archive(self) -> Path:
        """Move the journal to ``journals/<id>.json`` beside it; return the new path."""
        target = self.path.parent / "journals" / f"{self.id}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)
        _fsync_directory(target.parent)
        _fsync_directory(self.path.parent)
        return target


def write_durably(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that any crash, power loss included, leaves the old
    file or the new one, never half of one: write a temporary file beside it, fsync it,
    rename it into place, fsync the directory (which makes the rename itself durable)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def release_lock(state_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``state_dir`` so two releases never run in one checkout.

    :raises ReleaseError: another release holds it.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ReleaseError(
                f"another release is running in this checkout (pid {holder}, lock {path}); "
                "wait for it to finish"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
