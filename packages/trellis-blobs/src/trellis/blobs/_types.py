"""Value types of the blobs subsystem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StoredBlob:
    """What a provider knows about stored content (from :func:`blobs_scan`)."""

    key: str
    length: int
    modified: datetime


@dataclass(frozen=True)
class BlobInfo:
    """Metadata of a blob, as returned by :func:`trellis.blobs.put` and ``list_blobs``."""

    key: str
    domain: str
    parent_id: str
    type_code: int
    name: str
    content_type: str
    length: int
    sha256: str
    created: datetime
    expires: datetime | None
