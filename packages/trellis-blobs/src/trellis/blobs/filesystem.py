"""The ``filesystem`` blobs provider (the default): content in files under one root directory.

The root is ``TRELLIS_BLOBS_ROOT`` (environment, then Django setting), else
``<TRELLIS_DATA_DIR>/blobs``, else ``./var/blobs``; it is read on every call.

Layout: ``<root>/<h0h1>/<h2h3>/<dir>~/<dir>~/<leaf>``, where ``h`` is the hex sha256 of the
key, so content spreads over 65,536 fan-out directories and none holds millions of files.
The key's own segments follow; directories get a ``~`` suffix, which no key may contain, so
the key ``a`` (a file) and the key ``a/b`` (a directory ``a~``) never collide.

Writes are atomic: content goes to a temporary file (``~tmp-*``) in the destination
directory, is flushed and fsynced, then hard-linked to its final name (which fails if the name
is taken: keys are immutable) and the directory fsynced. A failed write leaves nothing.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, BinaryIO

from trellis.core import hookimpl

from . import hookspecs
from ._errors import BlobIntegrityError, InvalidKey, KeyExists, NotFound
from ._files import fsync_directory
from ._keys import validate_key
from ._settings import filesystem_root
from ._types import StoredBlob

TRELLIS_IMPLEMENTS = {"blobs": ">=1.0,<2"}
TRELLIS_PROVIDES = {"blobs": "filesystem"}
TRELLIS_HOOKSPECS = [hookspecs]

__all__ = ["CHUNK_SIZE", "path_for", "remove_stale_temp_files"]

CHUNK_SIZE = 1024 * 1024
DIR_SUFFIX = "~"
TEMP_PREFIX = "~tmp-"
_HEX = frozenset("0123456789abcdef")
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


def path_for(key: str, root: Path | None = None) -> Path:
    """The file that holds ``key``'s content, its directories checked to lie inside the root.

    :raises InvalidKey: the key is malformed.
    :raises BlobIntegrityError: a directory on the way is a symbolic link (the root is
        damaged: no key reaches anything outside it, nor another key's files).
    """
    return _locate(key, root)[0]


def _locate(key: str, root: Path | None = None) -> tuple[Path, Path]:
    """``(content file, its second-level fan-out directory)`` for ``key``.

    Each directory below the (resolved) root that exists is checked with ``lstat``: a
    symbolic link there is damage. The content file itself is not checked here (a link or a
    directory in its place is found by the operation, without following it).
    """
    key = validate_key(key)
    base = _real_root(str(root or filesystem_root()))
    digest = hashlib.sha256(key.encode("ascii")).hexdigest()
    *dirs, leaf = key.split("/")
    parts = (digest[:2], digest[2:4], *(d + DIR_SUFFIX for d in dirs))
    current = str(base)
    for part in parts:
        current = f"{current}{os.sep}{part}"
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            break  # not made yet: nothing below it exists either
        if stat.S_ISLNK(mode):
            raise BlobIntegrityError(
                f"the blob root {base} is damaged: {current}, a directory of key {key!r}, "
                f"is a symbolic link; remove the symbolic link"
            )
        if not stat.S_ISDIR(mode):
            break  # a file in a directory's place: the operation finds nothing there
    bucket = base / digest[:2] / digest[2:4]
    return bucket.joinpath(*parts[2:], leaf), bucket


@functools.lru_cache(maxsize=16)
def _real_root(root: str) -> Path:
    """The root with its own symbolic links resolved (once per root setting and process)."""
    return Path(root).resolve()


def _damaged(key: str, path: Path, what: str) -> BlobIntegrityError:
    return BlobIntegrityError(
        f"the content of blob {key!r} is damaged: {path} is {what}, not a regular file; "
        "restore the content from a backup or delete the blob"
    )


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a special file"


@hookimpl
def blobs_write(key: str, stream: BinaryIO) -> int:
    """Copy ``stream`` to a temporary file in chunks, fsync it, link it into place."""
    path = path_for(key)
    fd, temp = _make_temp(path.parent)
    published = False
    try:
        with os.fdopen(fd, "wb") as out:
            written = _copy(stream, out, key)
            out.flush()
            os.fsync(out.fileno())
        _publish(temp, path, key)
        published = True
        fsync_directory(path.parent)
    except BaseException:
        if published:
            _unlink_quietly(path)
        raise
    finally:
        _unlink_quietly(temp)
    return written


@hookimpl
def blobs_open(key: str) -> BinaryIO:
    """The content file opened for buffered binary reading.

    Never follows a symbolic link and never blocks on a special file: anything but a regular
    file where the content should be raises ``BlobIntegrityError``.
    """
    path = path_for(key)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"no content stored under key {key!r} in {filesystem_root()}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
            raise _damaged(key, path, "a symbolic link") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _damaged(key, path, _kind(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@hookimpl
def blobs_delete(key: str) -> bool:
    """Unlink the content file and prune the key's directories left empty.

    A symbolic link in the content file's place is unlinked like a file (never followed);
    a directory there raises ``BlobIntegrityError``.
    """
    path, bucket = _locate(key)
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except IsADirectoryError:
        raise _damaged(key, path, "a directory") from None
    _prune(path.parent, stop=bucket)
    return True


@hookimpl
def blobs_exists(key: str) -> bool:
    """Whether a regular file holds the key's content (a symbolic link is never followed).

    :raises BlobIntegrityError: something else is in its place.
    """
    path = path_for(key)
    try:
        mode = path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    if not stat.S_ISREG(mode):
        raise _damaged(key, path, _kind(mode))
    return True


@hookimpl
def blobs_scan() -> Iterator[StoredBlob]:
    """Walk the tree lazily; temporary files and anything that is not a blob are skipped."""
    return _scan(filesystem_root().resolve())


def remove_stale_temp_files(
    older_than: timedelta, root: Path | None = None, *, now: datetime | None = None
) -> int:
    """Delete temporary files of writes that died (a killed process) older than ``older_than``.

    :param now: the time ``older_than`` counts back from (default: now).
    :return: how many were deleted.
    """
    cutoff = (now or datetime.now(UTC)).timestamp() - older_than.total_seconds()
    removed = 0
    for entry, _parts in _files(Path(root or filesystem_root()).resolve(), depth=0, parts=()):
        if entry.name.startswith(TEMP_PREFIX):
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
    return removed


# -- writing -------------------------------------------------------------------------------------


def _make_temp(directory: Path) -> tuple[int, Path]:
    for attempt in range(3):
        _makedirs(directory)
        try:
            fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
        except FileNotFoundError:  # a concurrent delete pruned the directory just now
            if attempt == 2:
                raise
            continue
        return fd, Path(name)
    raise AssertionError("unreachable")  # pragma: no cover


def _makedirs(directory: Path) -> None:
    """Create missing directories, fsyncing each parent so they survive a crash."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        fsync_directory(path.parent)


def _copy(stream: IO[bytes], out: IO[bytes], key: str) -> int:
    written = 0
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            if chunk is None:
                raise TypeError(f"the stream for blob {key!r} is non-blocking; pass a blocking one")
            return written
        out.write(chunk)
        written += len(chunk)


def _publish(temp: Path, path: Path, key: str) -> None:
    """Give ``temp`` its final name, refusing to replace content already stored there."""
    exists = KeyExists(f"content is already stored under key {key!r}; keys are immutable")
    try:
        os.link(temp, path)
    except FileExistsError:
        raise exists from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # A filesystem without hard links: check, then rename (not atomic against a racing
        # writer of the same key, which the metadata's unique key still catches).
        if path.exists():
            raise exists from None
        os.replace(temp, path)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _prune(directory: Path, *, stop: Path) -> None:
    """Remove empty key directories up to, not including, the fan-out level."""
    while directory != stop and directory.is_relative_to(stop):
        try:
            directory.rmdir()
        except OSError:  # not empty (or already gone): stop here
            return
        directory = directory.parent


# -- scanning ------------------------------------------------------------------------------------


def _scan(root: Path) -> Iterator[StoredBlob]:
    for entry, parts in _files(root, depth=0, parts=()):
        if DIR_SUFFIX in entry.name or len(parts) < 2:
            continue  # temporary files, stray files at the fan-out levels
        key = "/".join((*parts[2:], entry.name))
        try:
            validate_key(key)
        except InvalidKey:
            continue
        digest = hashlib.sha256(key.encode("ascii")).hexdigest()
        if (digest[:2], digest[2:4]) != parts[:2]:
            continue  # not where path_for() puts it: not reachable as a blob
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # deleted while we walked
            continue
        yield StoredBlob(
            key=key, length=info.st_size, modified=datetime.fromtimestamp(info.st_mtime, UTC)
        )


def _files(
    directory: Path, *, depth: int, parts: tuple[str, ...]
) -> Iterator[tuple[os.DirEntry[str], tuple[str, ...]]]:
    """Every regular file under ``directory`` with the names of the directories leading to it.

    Fan-out levels (depth 0 and 1) only descend into two-hex-digit directories, key levels
    only into ``~``-suffixed ones (suffix removed); symbolic links are never followed.
    """
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if depth < 2:
                        if len(entry.name) == 2 and set(entry.name) <= _HEX:
                            yield from _files(
                                Path(entry.path), depth=depth + 1, parts=(*parts, entry.name)
                            )
                    elif entry.name.endswith(DIR_SUFFIX):
                        yield from _files(
                            Path(entry.path), depth=depth + 1, parts=(*parts, entry.name[:-1])
                        )
                elif entry.is_file(follow_symlinks=False):
                    yield entry, parts
    except (FileNotFoundError, NotADirectoryError):
        return
