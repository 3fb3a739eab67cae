"""Reads of the blobs subsystem: metadata, listings and verified content.

Re-exported by :mod:`trellis.blobs` under short names (``blob_open`` is
``trellis.blobs.open_blob``). A blob exists when its metadata row exists; content is always
checked against the row's length and sha256 as it is read.

Expiry is a deadline for the cleanup job (``manage.py blobs_expire``), not a visibility rule:
a blob past its expiry stays readable until the job deletes it.
"""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING

from trellis.core import Host, get_host

from ._errors import BlobIntegrityError, BlobTooLarge, NotFound, provider_errors
from ._keys import validate_key
from ._rows import info_by_key, meta_model, not_found, selected_provider, to_info
from ._streams import BlobReader, RangeChunks
from ._types import BlobInfo

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

__all__ = [
    "READ_BYTES_LIMIT",
    "blob_can_read",
    "blob_exists",
    "blob_get_info",
    "blob_list",
    "blob_open",
    "blob_open_from_info",
    "blob_open_range",
    "blob_read_bytes",
    "blob_size",
]

READ_BYTES_LIMIT = 64 * 1024 * 1024
"""Default ceiling of :func:`blob_read_bytes`: bigger blobs should be streamed."""

log = logging.getLogger("trellis.blobs")


def blob_can_read(user: AbstractBaseUser | AnonymousUser, info: BlobInfo) -> bool:
    """Whether ``user`` may read the blob: the plugins' ``blobs_can_read`` answers combined.

    Any ``False`` denies, at least one ``True`` is needed, an implementation that raises
    denies (logged with its plugin's name). By default only active staff may read.
    """
    allowed = False
    answers = get_host().collect_by_plugin(
        "blobs_can_read", return_exceptions=True, user=user, info=info
    )
    for plugin, answer in answers:
        if isinstance(answer, Exception):
            log.error(
                "plugin %r failed in blobs_can_read for blob %r; access denied",
                plugin,
                info.key,
                exc_info=answer,
            )
            return False
        if answer is False:
            return False
        allowed = allowed or answer is True
    return allowed


def blob_get_info(key: str) -> BlobInfo:
    """The metadata of a blob.

    :raises InvalidKey: ``key`` is malformed.
    :raises NotFound: no blob has ``key``.
    """
    info = info_by_key(validate_key(key))
    if info is None:
        raise not_found(key)
    return info


def blob_exists(key: str) -> bool:
    """Whether a blob has ``key``.

    :raises InvalidKey: ``key`` is malformed.
    """
    return meta_model().objects.filter(key=validate_key(key)).exists()


def blob_size(key: str) -> int:
    """The length of a blob's content in bytes.

    :raises InvalidKey: ``key`` is malformed.
    :raises NotFound: no blob has ``key``.
    """
    key = validate_key(key)
    length = meta_model().objects.filter(key=key).values_list("length", flat=True).first()
    if length is None:
        raise not_found(key)
    return length


def blob_list(
    *, parent_id: str, domain: str | None = None, type_code: int | None = None
) -> list[BlobInfo]:
    """The blobs of one parent, oldest first, optionally only one domain's or type's."""
    rows = meta_model().objects.filter(parent_id=parent_id)
    if domain is not None:
        rows = rows.filter(domain=domain)
    if type_code is not None:
        rows = rows.filter(type_code=type_code)
    return [to_info(row) for row in rows.order_by("created", "pk")]


def blob_open(key: str) -> BlobReader:
    """Open a blob's content for streaming; it is verified as it is read (see :class:`BlobReader`).

    :raises InvalidKey: ``key`` is malformed.
    :raises NotFound: no blob has ``key``.
    :raises BlobIntegrityError: the blob's content is missing from the provider.
    """
    return blob_open_from_info(blob_get_info(key))


def blob_open_from_info(info: BlobInfo) -> BlobReader:
    """Open the content of the blob ``info`` describes, verified against ``info`` as it is read.

    For a caller that has the metadata already (the download view sends it as headers): no
    second query, and the content is checked against the very metadata the caller used. If
    the blob was replaced since ``info`` was read, reading raises ``BlobIntegrityError``.

    :raises NotFound: no blob has ``info.key`` any more.
    :raises BlobIntegrityError: the blob's content is missing from the provider.
    """
    host = get_host()
    return BlobReader(_open_content(host, info), info, provider=selected_provider(host))


def blob_read_bytes(key: str, *, limit: int = READ_BYTES_LIMIT) -> bytes:
    """A blob's whole content, returned only after its length and sha256 have been verified.

    :param limit: refuse blobs longer than this many bytes (stream those with ``open_blob``).
    :raises NotFound: no blob has ``key``.
    :raises BlobTooLarge: the blob is longer than ``limit``.
    :raises BlobIntegrityError: the stored content does not match the metadata.
    """
    info = blob_get_info(key)
    if info.length > limit:
        raise BlobTooLarge(
            f"blob {key!r} is {info.length} bytes; read_bytes() returns at most {limit} "
            "(pass limit=..., or stream it with open_blob())"
        )
    with blob_open_from_info(info) as reader:
        return reader.read()


def blob_open_range(info: BlobInfo, start: int, stop: int) -> RangeChunks:
    """Bytes ``start`` to ``stop`` (exclusive) of a blob's content, as closeable chunks.

    For range downloads: a part of the content cannot be checked against the sha256.

    :raises BlobIntegrityError: the blob's content is missing from the provider.
    """
    host = get_host()
    return RangeChunks(_open_content(host, info), start, stop, provider=selected_provider(host))


def _open_content(host: Host, info: BlobInfo) -> IO[bytes]:
    try:
        with provider_errors(lambda: selected_provider(host), f"opening blob {info.key!r}"):
            stream: IO[bytes] = host.call("blobs_open", key=info.key)
    except NotFound as exc:
        if not meta_model().objects.filter(key=info.key).exists():
            raise not_found(info.key) from exc  # deleted while we were opening it
        raise BlobIntegrityError(
            f"blob {info.key!r} has metadata but provider {selected_provider(host)!r} holds no "
            "content for it; restore the content from a backup or delete the blob"
        ) from exc
    return stream
