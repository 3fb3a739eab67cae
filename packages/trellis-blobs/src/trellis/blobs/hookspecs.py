"""Hooks of the ``blobs`` contract: where blob content lives, and who may read it.

The content hooks are *provider* hooks (``firstresult``): only the provider selected with
``TRELLIS_BLOBS_PROVIDER`` (default ``filesystem``) answers. ``blobs_can_read`` is an
*extension* hook: every plugin may have a say in who reads a blob. Metadata (length, sha256, owner,
expiry) is kept in SQL by the ``trellis.blobs`` facade; a provider stores bytes under keys.

Keys reaching a provider are already validated by :func:`trellis.blobs.validate_key`
(``[A-Za-z0-9._/-]``, no empty, ``.`` or ``..`` segment, no leading ``/``, at most 255
characters); a provider must still never let a key address anything outside its own storage.

Every provider hook is :func:`~trellis.core.remotable` (contract 1.2): trellis-remote can serve
the selected provider over HTTP and answer these hooks as provider ``remote`` in another
process. Reads (``blobs_open``, ``blobs_exists``, ``blobs_scan``) are marked safe to retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from trellis.core import Contract, hookspec, remotable

from ._types import BlobInfo, StoredBlob

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

CONTRACT = Contract(
    "blobs", "1.2.0", default_provider="filesystem", description="Blob content storage"
)


@remotable()
@hookspec(firstresult=True)
def blobs_write(key: str, stream: BinaryIO) -> int:
    """Store everything read from ``stream`` (until EOF) as the content of ``key``.

    Provider hook. The write is atomic: afterwards ``key`` holds the whole new content, and if
    anything fails (including ``stream`` raising) nothing is left under ``key``. Content must
    be streamed, never read whole into memory. ``key`` does not exist yet (keys are immutable).

    :param key: validated blob key.
    :param stream: binary file-like object to read from; the provider does not close it.
    :return: the number of bytes stored.
    """


@remotable(safe=True)
@hookspec(firstresult=True)
def blobs_open(key: str) -> BinaryIO:
    """Open the content of ``key`` for streaming reads.

    Provider hook. The caller closes the returned object.

    :raises trellis.blobs.NotFound: nothing is stored under ``key``.
    :return: a readable binary file-like object positioned at the start.
    """


@remotable()
@hookspec(firstresult=True)
def blobs_delete(key: str) -> bool:
    """Delete the content of ``key``.

    Provider hook.

    :return: ``True`` if something was deleted, ``False`` if nothing was stored under ``key``.
    """


@remotable(safe=True)
@hookspec(firstresult=True)
def blobs_exists(key: str) -> bool:
    """Whether content is stored under ``key``.

    Provider hook.

    :return: ``True`` when ``key`` holds content.
    """


@remotable(safe=True)
@hookspec(firstresult=True)
def blobs_scan() -> Iterator[StoredBlob]:
    """Every stored blob, in no particular order (for reaping orphans and migrations).

    Provider hook. Must stream: never build the whole listing in memory.

    :return: an iterator of :class:`~trellis.blobs.StoredBlob` (key, length, modified time).
    """


@hookspec
def blobs_can_read(user: AbstractBaseUser | AnonymousUser, info: BlobInfo) -> bool | None:
    """Whether ``user`` may read the blob ``info`` describes (download it over HTTP).

    Extension hook: every plugin is asked. Any ``False`` denies; otherwise at least one
    ``True`` is needed; ``None`` abstains. An implementation that raises denies (and is
    logged with its plugin's name). The ``blobs`` plugin itself allows active staff users, so
    with nothing else installed only staff read blobs; a subsystem that owns blobs (forms:
    members of the blob's domain) grants its users. The download view answers a refusal
    exactly as it answers an unknown key (404), so keys cannot be probed.

    :param user: the request's user (authenticated when the view asks).
    :param info: the blob's metadata (key, domain, parent id, type code...).
    :return: ``True`` to allow, ``False`` to deny, ``None`` to leave it to others.
    """
