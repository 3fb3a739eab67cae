"""trellis-blobs: a blob store with metadata in SQL and content in a pluggable provider.

Store and read blobs through the functions here; never through ``get_host().call`` or the
provider modules::

    from trellis import blobs

    info = blobs.put(upload, domain="demo", parent_id=form_id, type_code=1, name="photo.jpg",
                     content_type="image/jpeg")
    with blobs.open_blob(info.key) as reader:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            ...

The content lives in the provider selected by ``TRELLIS_BLOBS_PROVIDER`` (``filesystem`` by
default); its metadata (:class:`BlobInfo`) in the ``trellis_blobs`` Django app's table.
"""

from __future__ import annotations

from ._errors import (
    BlobError,
    BlobIntegrityError,
    BlobProviderFailed,
    BlobStoreTimeout,
    BlobStoreUnavailable,
    BlobTooLarge,
    BlobTruncated,
    InvalidKey,
    KeyExists,
    NotFound,
)
from ._keys import new_key, validate_key
from ._streams import BlobReader
from ._types import BlobInfo, StoredBlob
from ._version import __version__
from .selectors import blob_can_read as can_read
from .selectors import blob_exists as exists
from .selectors import blob_get_info as get_info
from .selectors import blob_list as list_blobs
from .selectors import blob_open as open_blob
from .selectors import blob_read_bytes as read_bytes
from .selectors import blob_size as size
from .services import blob_bulk_delete as bulk_delete
from .services import blob_clear_expiry as clear_expiry
from .services import blob_delete as delete
from .services import blob_discard as discard
from .services import blob_put as put
from .services import blob_set_expiry as set_expiry

__all__ = [
    "BlobError",
    "BlobInfo",
    "BlobIntegrityError",
    "BlobProviderFailed",
    "BlobReader",
    "BlobStoreTimeout",
    "BlobStoreUnavailable",
    "BlobTooLarge",
    "BlobTruncated",
    "InvalidKey",
    "KeyExists",
    "NotFound",
    "StoredBlob",
    "__version__",
    "bulk_delete",
    "can_read",
    "clear_expiry",
    "delete",
    "discard",
    "exists",
    "get_info",
    "list_blobs",
    "new_key",
    "open_blob",
    "put",
    "read_bytes",
    "set_expiry",
    "size",
    "validate_key",
]
