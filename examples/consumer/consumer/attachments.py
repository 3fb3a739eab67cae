"""Form attachments, kept in trellis-blobs through its public facade only.

This is the consumer's whole contact with the blob store: ``trellis.blobs.put``,
``open_blob``, ``read_bytes``, ``list_blobs`` and ``delete``. Whether trellis-blobs sits in
this tree, in a git submodule, in a wheel from an index, or behind a remote service changes
none of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from trellis import blobs

DOMAIN = "consumer"
ATTACHMENT = 1  # the consumer's own kind-of-blob number
CHUNK = 64 * 1024


def attachment_store(
    content: bytes | IO[bytes],
    *,
    form_id: str,
    name: str,
    content_type: str = "application/octet-stream",
) -> blobs.BlobInfo:
    """Store one attachment of form ``form_id`` and return its metadata."""
    return blobs.put(
        content,
        domain=DOMAIN,
        parent_id=form_id,
        type_code=ATTACHMENT,
        name=name,
        content_type=content_type,
    )


def attachment_read(key: str) -> bytes:
    """The whole content of a (small) attachment, verified before it is returned."""
    return blobs.read_bytes(key)


def attachment_stream(key: str, *, chunk_size: int = CHUNK) -> Iterator[bytes]:
    """The content of an attachment in chunks, never whole in memory (verified as it is read)."""
    with blobs.open_blob(key) as reader:
        while chunk := reader.read(chunk_size):
            yield chunk


def attachment_list(*, form_id: str) -> list[blobs.BlobInfo]:
    """The attachments of form ``form_id``, oldest first."""
    return blobs.list_blobs(parent_id=form_id, domain=DOMAIN, type_code=ATTACHMENT)


def attachment_delete(key: str) -> bool:
    """Delete an attachment; ``True`` if it existed."""
    return blobs.delete(key)
