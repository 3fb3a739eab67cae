"""Writes of the blobs subsystem: store, delete, expire and reap blobs.

Re-exported by :mod:`trellis.blobs` under short names (``blob_put`` is ``trellis.blobs.put``);
application code imports those. Every function keeps the metadata row and the provider's
content in step:

- ``put`` writes the content first, then the row; if anything fails after the content was
  written, the content is deleted and the error re-raised (except when another put of the key
  committed its row first: the content under the key may then be that put's).
- ``delete`` removes the row in the current transaction and the content once it commits, so a
  rolled-back delete loses nothing. Until then the key cannot be stored again.
- A ``put`` inside a transaction that rolls back leaves its content without a row: an orphan,
  invisible to every reader, that :func:`blobs_reap` (``manage.py blobs_reap``) deletes once it
  is older than a grace period.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.db import IntegrityError, router, transaction
from django.utils import timezone

from trellis.core import ConfigurationError, Host, get_host

from ._errors import (
    BlobError,
    BlobIntegrityError,
    BlobTooLarge,
    KeyExists,
    provider_errors,
    provider_failure,
)
from ._keys import new_key, validate_key
from ._rows import (
    batched,
    delete_contents,
    delete_contents_on_commit,
    meta_model,
    not_found,
    selected_provider,
    to_datetime,
    to_info,
)
from ._settings import max_size
from ._streams import MeteredReader
from ._types import BlobInfo
from .selectors import blob_get_info

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "ExpireReport",
    "ReapReport",
    "blob_bulk_delete",
    "blob_clear_expiry",
    "blob_delete",
    "blob_discard",
    "blob_put",
    "blob_set_expiry",
    "blobs_expire",
    "blobs_reap",
]

DEFAULT_CONTENT_TYPE = "application/octet-stream"
BATCH_SIZE = 500
_CONTENT_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+( *;[ -~]*)?")
_FIELD_MAX = 255
_INT32 = 2**31


def blob_put(
    content: bytes | IO[bytes],
    *,
    domain: str,
    parent_id: str,
    type_code: int,
    name: str = "",
    content_type: str = DEFAULT_CONTENT_TYPE,
    key: str | None = None,
    expires: datetime | timedelta | None = None,
    length: int | None = None,
) -> BlobInfo:
    """Store a blob and return its metadata.

    :param content: the bytes, or a binary stream read to its end in chunks (never whole into
        memory; not closed).
    :param domain: the project space that owns the blob.
    :param parent_id: the object it belongs to (a form submission, a case...).
    :param type_code: what kind of blob it is, for the owner (an application-defined number).
    :param name: file name, used by downloads (``Content-Disposition``).
    :param content_type: media type, sent as ``Content-Type`` by downloads.
    :param key: the key to store it under (default: :func:`new_key`). Keys are immutable.
    :param expires: when :func:`blobs_expire` may delete it: an aware ``datetime`` or a
        ``timedelta`` from now.
    :param length: the length the stream must have; a longer or shorter stream is refused.
    :raises InvalidKey: ``key`` is malformed.
    :raises KeyExists: a blob (or content whose put has not committed) already uses ``key``,
        or the current transaction deleted the blob with ``key`` and has not committed yet.
    :raises BlobTooLarge: the content is longer than ``length`` or ``TRELLIS_BLOBS_MAX_SIZE``.
    :raises BlobTruncated: the stream ended before ``length`` bytes.
    """
    chosen = key is not None
    key = validate_key(key) if key is not None else new_key()
    _check_fields(
        key,
        domain=domain,
        parent_id=parent_id,
        type_code=type_code,
        name=name,
        content_type=content_type,
    )
    limit = max_size()
    if length is not None:
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise ValueError(f"length for blob {key!r} must be an int >= 0; got {length!r}")
        if length > limit:
            raise BlobTooLarge(
                f"blob {key!r} declares length={length}; the limit is {limit} bytes "
                "(TRELLIS_BLOBS_MAX_SIZE)"
            )
    expires_at = None if expires is None else to_datetime(expires, key=key)
    model = meta_model()
    host = get_host()
    if chosen:  # a fresh random key cannot be taken: the unique index and the provider say so
        _check_free(host, model, key)
    reader = MeteredReader(
        _as_stream(content, key),
        key=key,
        limit=limit,
        length=length,
        limit_source="TRELLIS_BLOBS_MAX_SIZE",
    )
    written = _write(host, key, reader)
    try:
        _check_written(host, key, reader, written)
        # In the caller's transaction, a savepoint: a failed insert leaves the caller's intact.
        # In autocommit the single INSERT is atomic by itself (no BEGIN/COMMIT round trips).
        alias = router.db_for_write(model)
        in_transaction = transaction.get_connection(alias).in_atomic_block
        with transaction.atomic(using=alias) if in_transaction else nullcontext():
            row = model.objects.create(
                key=key,
                domain=domain,
                parent_id=parent_id,
                type_code=type_code,
                name=name,
                content_type=content_type,
                length=reader.count,
                sha256=reader.sha256,
                expires=expires_at,
            )
    except IntegrityError as exc:
        # Another put of the key committed its row first. The content under the key is not
        # ours to delete: a create-only provider refuses the second write, so ours only
        # succeeded if the winner's did not; a provider that replaces content (S3 without
        # conditional writes, the filesystem's rename fallback) may hold the winner's now.
        raise KeyExists(
            f"a blob with key {key!r} was stored concurrently by another put, which committed "
            "first; keys are immutable: store under another key"
        ) from exc
    except BaseException:
        delete_contents(host, [key])
        raise
    return to_info(row)


def _check_free(host: Host, model: Any, key: str) -> None:
    """Refuse a chosen key before reading the caller's stream: a row, or content, has it."""
    if model.objects.filter(key=key).exists():
        raise KeyExists(
            f"a blob with key {key!r} already exists; keys are immutable: delete it first or "
            "store under another key (the default is a fresh trellis.blobs.new_key())"
        )
    with provider_errors(lambda: selected_provider(host), f"checking key {key!r}"):
        stored = host.call("blobs_exists", key=key)
    if stored:
        raise KeyExists(
            f"content is already stored under key {key!r} without a committed blob: if blob "
            f"{key!r} was deleted in this transaction, its content is removed only when the "
            "transaction commits, so commit first; otherwise another put of the key is in "
            "progress, or a put that rolled back left it until `manage.py blobs_reap` removes "
            "it; or store under another key"
        )


def _as_stream(content: bytes | IO[bytes], key: str) -> IO[bytes]:
    if isinstance(content, bytes | bytearray | memoryview):
        return io.BytesIO(content)
    if not callable(getattr(content, "read", None)):  # a str, a path...
        raise TypeError(
            f"content for blob {key!r} must be bytes or a binary stream with read(); "
            f"got {type(content).__name__}"
        )
    return content


def _write(host: Host, key: str, reader: MeteredReader) -> int:
    """Call the provider; report the reader's own error when a provider wraps it."""
    try:
        written: int = host.call("blobs_write", key=key, stream=reader)
    except KeyExists as exc:
        raise KeyExists(
            f"content is already stored under key {key!r} without committed metadata: another "
            "put of this key is in progress, a committed delete of it has not removed the "
            "content yet, or a put that rolled back left it behind until `manage.py "
            "blobs_reap` removes it; store under another key"
        ) from exc
    except BaseException as exc:
        failed = reader.error or reader.source_error  # the caller's stream, not the provider
        if failed is not None:
            if exc is not failed:
                raise failed from exc
            raise
        if isinstance(exc, Exception) and not isinstance(exc, BlobError | ConfigurationError):
            raise provider_failure(exc, selected_provider(host), f"storing blob {key!r}") from exc
        raise
    return written


def _check_written(host: Host, key: str, reader: MeteredReader, written: int) -> None:
    if reader.error is not None:  # the provider swallowed the stream's error
        raise reader.error
    provider = selected_provider(host)
    if not reader.at_eof:
        raise BlobIntegrityError(
            f"provider {provider!r} stored blob {key!r} without reading its stream to the end "
            f"({reader.count} bytes read); the provider is faulty"
        )
    if written != reader.count:
        raise BlobIntegrityError(
            f"provider {provider!r} reports {written!r} bytes stored for blob {key!r}, but "
            f"{reader.count} were read; the provider is faulty"
        )


def _check_fields(
    key: str, *, domain: str, parent_id: str, type_code: int, name: str, content_type: str
) -> None:
    for field, value in (("domain", domain), ("parent_id", parent_id)):
        if not isinstance(value, str) or not value or len(value) > _FIELD_MAX or _unstorable(value):
            raise ValueError(
                f"{field} for blob {key!r} must be a non-empty string of at most {_FIELD_MAX} "
                f"characters without control characters; got {value!r}"
            )
    if not isinstance(type_code, int) or isinstance(type_code, bool):
        raise TypeError(f"type_code for blob {key!r} must be an int; got {type_code!r}")
    if not -_INT32 <= type_code < _INT32:
        raise ValueError(f"type_code for blob {key!r} must fit in 32 bits; got {type_code}")
    if not isinstance(name, str) or len(name) > _FIELD_MAX or _unstorable(name):
        raise ValueError(
            f"name for blob {key!r} must be a string of at most {_FIELD_MAX} characters "
            f"without control characters; got {name!r}"
        )
    if (
        not isinstance(content_type, str)
        or len(content_type) > _FIELD_MAX
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise ValueError(
            f"content_type for blob {key!r} must be a media type such as 'image/jpeg' or "
            f"'text/plain; charset=utf-8'; got {content_type!r}"
        )


def _unstorable(text: str) -> bool:
    """Whether ``text`` has a control character or is not valid Unicode text.

    Checked before any byte is written, the same on every database: PostgreSQL refuses NUL
    and lone surrogates (SQLite stores them), and no other control character belongs in a
    domain, a parent id or a file name.
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def blob_delete(key: str) -> bool:
    """Delete a blob: its row now (in the current transaction), its content after commit.

    :return: ``True`` if the blob existed.
    :raises InvalidKey: ``key`` is malformed.
    """
    key = validate_key(key)
    deleted, _ = meta_model().objects.filter(key=key).delete()
    if deleted:
        delete_contents_on_commit([key])
    return bool(deleted)


def blob_discard(keys: Iterable[str]) -> int:
    """Delete the content of those ``keys`` that have no metadata row: puts that did not commit.

    For a caller whose transaction stored blobs and then failed: after the rollback, call it
    with the keys it put, so their content is gone at once instead of waiting for
    ``manage.py blobs_reap``. A key with a row (a committed blob, or one written earlier in
    a transaction still open on this connection) keeps its content; call it after the
    rollback, never inside the transaction that put the keys. A content deletion that fails
    is logged and left to the reaper.

    :return: how many keys had content that was deleted.
    :raises InvalidKey: a key is malformed (nothing is deleted).
    """
    unique = list(dict.fromkeys(validate_key(key) for key in keys))
    model = meta_model()
    host = get_host()
    deleted = 0
    for batch in batched(unique, BATCH_SIZE):
        kept = set(model.objects.filter(key__in=batch).values_list("key", flat=True))
        deleted += delete_contents(host, [key for key in batch if key not in kept])
    return deleted


def blob_bulk_delete(keys: Iterable[str]) -> int:
    """Delete many blobs (rows now, content after commit), in batches.

    Every key is validated before anything is deleted.

    :return: how many of them existed.
    :raises InvalidKey: a key is malformed (nothing is deleted).
    """
    unique = list(dict.fromkeys(validate_key(key) for key in keys))
    model = meta_model()
    total = 0
    for batch in batched(unique, BATCH_SIZE):
        with transaction.atomic():
            found = list(
                model.objects.select_for_update()
                .filter(key__in=batch)
                .values_list("key", flat=True)
            )
            model.objects.filter(key__in=found).delete()
            delete_contents_on_commit(found)
        total += len(found)
    return total


def blob_set_expiry(key: str, expires: datetime | timedelta) -> BlobInfo:
    """Make a blob expire at ``expires`` (an aware ``datetime``, or a ``timedelta`` from now).

    :raises NotFound: no blob has ``key``.
    """
    key = validate_key(key)
    when = to_datetime(expires, key=key)
    if not meta_model().objects.filter(key=key).update(expires=when):
        raise not_found(key)
    return blob_get_info(key)


def blob_clear_expiry(key: str) -> BlobInfo:
    """Make a blob permanent again.

    :raises NotFound: no blob has ``key``.
    """
    key = validate_key(key)
    if not meta_model().objects.filter(key=key).update(expires=None):
        raise not_found(key)
    return blob_get_info(key)


@dataclass(frozen=True)
class ExpireReport:
    """What :func:`blobs_expire` did."""

    deleted: int
    batches: int


def blobs_expire(*, batch_size: int = BATCH_SIZE, now: datetime | None = None) -> ExpireReport:
    """Delete every blob whose expiry has passed, ``batch_size`` at a time.

    Each batch is one transaction (rows locked with ``SKIP LOCKED`` where the database can, so
    two runs share the work); its content is deleted when it commits.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    now = now or timezone.now()
    model = meta_model()
    deleted = batches = 0
    while True:
        with transaction.atomic():
            keys = list(
                model.objects.select_for_update(skip_locked=True)
                .filter(expires__lte=now)
                .order_by("expires", "pk")
                .values_list("key", flat=True)[:batch_size]
            )
            if not keys:
                break
            model.objects.filter(key__in=keys).delete()
            delete_contents_on_commit(keys)
        deleted += len(keys)
        batches += 1
        if len(keys) < batch_size:
            break
    return ExpireReport(deleted=deleted, batches=batches)


@dataclass(frozen=True)
class ReapReport:
    """What :func:`blobs_reap` found and did."""

    scanned: int
    orphans: int
    deleted: int
    too_young: int
    temp_files: int = 0
    """Temporary files of writes that died, removed (when the filesystem provider is in use,
    selected or either side of a migration)."""


def blobs_reap(
    *,
    older_than: timedelta,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> ReapReport:
    """Delete stored content that has no metadata row and is older than ``older_than``.

    Such content is left by a ``put`` whose transaction rolled back, or by a process that died
    between writing content and committing its row. Younger content is kept: its ``put`` may
    still be about to commit. A provider may date content from when its upload started (S3
    may date a multipart upload so), so ``older_than`` must exceed the longest upload plus the
    longest transaction that stores blobs. The provider's storage must belong to this blob
    store alone: anything in it without a row counts as an orphan. When the filesystem
    provider is in use (selected, or either side of a migration), temporary files of writes
    whose process died are removed too, after the same grace period.

    :param dry_run: count orphans without deleting them.
    :param now: the time the grace period counts back from (default: now).
    """
    if older_than < timedelta(0):
        raise ValueError(f"older_than must not be negative; got {older_than}")
    now = now or datetime.now(UTC)
    cutoff = now - older_than
    host = get_host()
    model = meta_model()
    scanned = orphans = deleted = too_young = 0
    with provider_errors(selected_provider(host), "listing stored content"):
        listing = host.call("blobs_scan")
    for batch in batched(listing, batch_size):
        scanned += len(batch)
        keys = [blob.key for blob in batch]
        known = set(model.objects.filter(key__in=keys).values_list("key", flat=True))
        for blob in batch:
            if blob.key in known:
                continue
            if blob.modified > cutoff:
                too_young += 1
                continue
            orphans += 1
            if not dry_run:
                deleted += delete_contents(host, [blob.key])
    temp_files = 0
    if not dry_run and _uses_filesystem(host):
        from .filesystem import remove_stale_temp_files

        temp_files = remove_stale_temp_files(older_than, now=now)
    return ReapReport(
        scanned=scanned,
        orphans=orphans,
        deleted=deleted,
        too_young=too_young,
        temp_files=temp_files,
    )


def _uses_filesystem(host: Host) -> bool:
    """Whether the filesystem provider holds content: selected, or either side of a migration."""
    provider = selected_provider(host)
    if provider == "migrating":
        from .migrating import load_migration

        migration = load_migration(host)
        return "filesystem" in (migration.old, migration.new)
    return provider == "filesystem"
