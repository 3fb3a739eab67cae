"""Typed errors of the blobs subsystem; each message names the key or value at fault."""

from __future__ import annotations

from trellis.core import TrellisError


class BlobError(TrellisError):
    """Base class of every blobs error."""


class InvalidKey(BlobError, ValueError):
    """A key is malformed or could escape the provider's storage (``..``, ``/x``, NUL...)."""


class NotFound(BlobError, KeyError):
    """No blob is stored under the key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "blob not found"


class KeyExists(BlobError):
    """A blob already exists under the key; keys are immutable (delete first)."""


class BlobTooLarge(BlobError):
    """The content is longer than the limit (``TRELLIS_BLOBS_MAX_SIZE`` or ``length``)."""


class BlobTruncated(BlobError):
    """The stream ended before the declared ``length``."""


class BlobIntegrityError(BlobError):
    """Stored content no longer matches its metadata (length or sha256)."""
