"""The ``migrating`` blobs provider: move content between two providers without downtime.

Select it with ``TRELLIS_BLOBS_PROVIDER=migrating`` and name the two providers, each from the
environment first, then from Django settings of the same name:

- ``TRELLIS_BLOBS_MIGRATE_FROM``: the provider that holds the content today (e.g.
  ``filesystem``), with its own settings left in place;
- ``TRELLIS_BLOBS_MIGRATE_TO``: the provider it moves to (e.g. ``s3``), configured as if it
  were selected.

New content goes to the new provider (a key the old one still holds is refused); reads try the
new provider and fall back to the old one; deletes remove the blob from both. ``manage.py
blobs_backfill`` then copies the old content across, after which the new provider is selected
directly (see shared-docs/blobs-providers.md).
The two providers are reached through :meth:`trellis.core.Host.call_provider` on the
process-wide host.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from trellis.core import ConfigurationError, Host, get_host, hookimpl

from . import hookspecs
from ._errors import KeyExists, NotFound
from ._settings import setting
from ._types import StoredBlob

TRELLIS_IMPLEMENTS = {"blobs": ">=1.0,<2"}
TRELLIS_PROVIDES = {"blobs": "migrating"}
TRELLIS_HOOKSPECS = [hookspecs]

__all__ = ["SCAN_MEMORY_KEYS", "Migration", "check_migration", "load_migration"]

NAME = "migrating"
FROM_SETTING = "TRELLIS_BLOBS_MIGRATE_FROM"
TO_SETTING = "TRELLIS_BLOBS_MIGRATE_TO"

SCAN_MEMORY_KEYS = 100_000
"""How many keys of the new provider ``blobs_scan`` remembers to leave out of the old listing.

Up to this many (a few MB), each old key is looked up in memory; past it the set is dropped
and each old key costs one ``blobs_exists`` call on the new provider instead, so memory stays
bounded however many blobs there are.
"""


@dataclass(frozen=True)
class Migration:
    """A move of blob content from provider ``old`` to provider ``new``."""

    old: str
    new: str


def load_migration(host: Host | None = None) -> Migration:
    """The migration the settings configure, checked against the host's active providers.

    :raises ConfigurationError: a setting is missing, or see :func:`check_migration`.
    """
    old, new = _setting(FROM_SETTING), _setting(TO_SETTING)
    host = host if host is not None else get_host()
    if not old or not new:
        missing = [name for name, value in ((FROM_SETTING, old), (TO_SETTING, new)) if not value]
        raise ConfigurationError(
            f"the migrating blobs provider needs {' and '.join(missing)} (environment or "
            f"Django setting): the provider to move from and the one to move to; "
            f"{_available(host)}"
        )
    return check_migration(old, new, host=host, sources=(FROM_SETTING, TO_SETTING))


def check_migration(
    old: str,
    new: str,
    *,
    host: Host | None = None,
    sources: tuple[str, str] = ("the provider to move from", "the provider to move to"),
) -> Migration:
    """Check that ``old`` and ``new`` are two different, active, non-migrating providers.

    :param sources: how to name the two values in messages (setting or option names).
    :raises ConfigurationError: naming the value at fault and the available providers.
    """
    host = host if host is not None else get_host()
    available = host.providers("blobs")
    for source, value in zip(sources, (old, new), strict=True):
        if value == NAME:
            raise ConfigurationError(
                f"{source} is {NAME!r}; name the real providers to move between. {_available(host)}"
            )
        if value not in available:
            raise ConfigurationError(
                f"{source} names blobs provider {value!r}, which is not installed; "
                f"{_available(host)}"
            )
    if old == new:
        raise ConfigurationError(
            f"{sources[0]} and {sources[1]} both name {old!r}; a migration needs two "
            f"different providers. {_available(host)}"
        )
    return Migration(old=old, new=new)


def _available(host: Host) -> str:
    names = sorted(name for name in host.providers("blobs") if name != NAME)
    return f"available providers: {', '.join(names) or 'none'}"


def _setting(name: str) -> str | None:
    value = setting(name)
    return None if value is None else str(value).strip()


def _current() -> tuple[Host, Migration]:
    host = get_host()
    return host, load_migration(host)


# -- hooks ---------------------------------------------------------------------------------------


@hookimpl
def blobs_write(key: str, stream: BinaryIO) -> int:
    """Write to the new provider only; refuse a key the old provider holds.

    Keys are immutable across both providers. Content the old one still holds under the key
    belongs to a blob whose delete has not reached it yet (a delete waiting for its
    transaction to commit), or is an orphan; that delete would remove the new content too.

    :raises KeyExists: the old provider holds content under ``key``.
    """
    host, migration = _current()
    if host.call_provider(migration.old, "blobs_exists", key=key):
        raise KeyExists(
            f"content is already stored under key {key!r} in {migration.old!r}, the provider "
            "being migrated from; keys are immutable"
        )
    written: int = host.call_provider(migration.new, "blobs_write", key=key, stream=stream)
    return written


@hookimpl
def blobs_open(key: str) -> BinaryIO:
    """Open from the new provider, or from the old one when the new one has no such blob."""
    host, migration = _current()
    try:
        opened: BinaryIO = host.call_provider(migration.new, "blobs_open", key=key)
    except NotFound:
        opened = host.call_provider(migration.old, "blobs_open", key=key)
    return opened


@hookimpl
def blobs_exists(key: str) -> bool:
    """Whether either provider holds the blob (the new one is asked first)."""
    host, migration = _current()
    return bool(
        host.call_provider(migration.new, "blobs_exists", key=key)
        or host.call_provider(migration.old, "blobs_exists", key=key)
    )


@hookimpl
def blobs_delete(key: str) -> bool:
    """Delete from both providers, the old one even if the new one fails; ``True`` if either had it.

    Deleting from both keeps a blob deleted during the migration from coming back through the
    fallback, or through a backfill that copies it again.
    """
    host, migration = _current()
    in_new = False
    try:
        in_new = bool(host.call_provider(migration.new, "blobs_delete", key=key))
    finally:
        in_old = bool(host.call_provider(migration.old, "blobs_delete", key=key))
    return in_new or in_old


@hookimpl
def blobs_scan() -> Iterator[StoredBlob]:
    """Every blob of the new provider, then those of the old one the new one lacks.

    Memory stays bounded (see :data:`SCAN_MEMORY_KEYS`). Like any scan this is not a snapshot:
    a blob copied or deleted while it runs may be listed from either provider, or not at all.
    """
    host, migration = _current()
    return _union(host, migration)


def _union(host: Host, migration: Migration) -> Iterator[StoredBlob]:
    limit = SCAN_MEMORY_KEYS
    seen: set[str] | None = set()
    for blob in host.call_provider(migration.new, "blobs_scan"):
        if seen is not None:
            seen.add(blob.key)
            if len(seen) > limit:
                seen = None
        yield blob
    for blob in host.call_provider(migration.old, "blobs_scan"):
        if seen is not None:
            if blob.key in seen:
                continue
        elif host.call_provider(migration.new, "blobs_exists", key=blob.key):
            continue
        yield blob
