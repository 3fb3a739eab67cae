"""The consumer's files: one digest per file, copies for the stages, and the identity check.

The claim of the path is that the consumer does not change; the session proves it by hashing
every file of ``examples/consumer`` before and after the run, and every copy a stage runs,
after it ran. Caches Python and pytest write (``__pycache__``, ``*.pyc``, ``.pytest_cache``)
and the default data dir ``var/`` are not the consumer's files and are left out.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache"})
_SKIPPED_TOP = frozenset({"var"})

Digest = dict[str, str]
"""Relative POSIX path → sha256 of the file's bytes."""


def _files(folder: Path, ignore: Iterable[str]) -> list[Path]:
    ignored = set(ignore) | _SKIPPED_TOP
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in ignored or _SKIPPED_DIRS.intersection(rel.parts):
            continue
        if path.suffix == ".pyc" or path.is_dir():
            continue
        found.append(path)
    return found


def digest_tree(folder: Path, *, ignore: Iterable[str] = ()) -> Digest:
    """The sha256 of every file under ``folder`` (see the module docstring for what is left out).

    :param ignore: top-level names that are not the consumer's (the stage 2 repository's
        ``.git``, ``.gitmodules`` and submodule folder).
    """
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in _files(folder, ignore)
    }


def combined(digest: Mapping[str, str]) -> str:
    """One sha256 for a whole tree's digest (stable: sorted paths and their hashes)."""
    text = "".join(f"{path}\0{value}\n" for path, value in sorted(digest.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def differences(expected: Mapping[str, str], actual: Mapping[str, str], where: str) -> list[str]:
    """What differs between two digests, one line per file, naming ``where`` the copy is.

    Empty when the trees are byte-identical.
    """
    found = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            found.append(f"{where}: {path} is missing")
        elif path not in expected:
            found.append(f"{where}: {path} is not in examples/consumer")
        elif expected[path] != actual[path]:
            found.append(
                f"{where}: {path} differs (sha256 {actual[path][:12]}, "
                f"examples/consumer has {expected[path][:12]})"
            )
    return found


def copy_consumer(source: Path, target: Path) -> Path:
    """Copy the consumer's files (as :func:`digest_tree` sees them) from ``source`` to ``target``.

    ``target`` may exist (the stage 2 repository, before anything is committed to it).
    """
    for path in _files(source, ()):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    return target
