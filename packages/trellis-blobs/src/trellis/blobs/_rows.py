"""Shared helpers of services and selectors: the model (imported lazily), row → BlobInfo, times.

``trellis.blobs`` is imported while a settings module runs (its plugin modules are entry
points), before Django's app registry is ready, so nothing here imports models at import time.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

from django.conf import settings
from django.utils import timezone

from trellis.core import Host, get_host

from ._errors import NotFound
from ._types import BlobInfo

if TYPE_CHECKING:
    from .models import BlobMeta

log = logging.getLogger("trellis.blobs")
T = TypeVar("T")


def meta_model() -> type[BlobMeta]:
    """The ``BlobMeta`` model class."""
    from .models import BlobMeta

    return BlobMeta


INFO_FIELDS = tuple(f.name for f in dataclasses.fields(BlobInfo))
"""The columns of a :class:`BlobInfo`, in its field order (``values_list(*INFO_FIELDS)``)."""


def to_info(row: BlobMeta) -> BlobInfo:
    """The public value of a metadata row."""
    return BlobInfo(*(getattr(row, name) for name in INFO_FIELDS))


def info_by_key(key: str) -> BlobInfo | None:
    """The metadata of ``key`` in one indexed query, without building a model instance."""
    rows = meta_model().objects.filter(key=key).values_list(*INFO_FIELDS)[:1]
    for values in rows:
        return BlobInfo(*values)
    return None


def not_found(key: str) -> NotFound:
    """The error for a key without metadata."""
    return NotFound(f"no blob with key {key!r}")


def to_datetime(expires: datetime | timedelta, *, key: str) -> datetime:
    """An expiry as stored: a ``timedelta`` counts from now; a ``datetime`` must be aware.

    With ``USE_TZ = False`` the value is stored as naive local time, as Django expects.
    """
    if isinstance(expires, timedelta):
        when = timezone.now() + expires
    elif isinstance(expires, datetime):
        if timezone.is_naive(expires):
            if settings.USE_TZ:
                raise ValueError(
                    f"expires={expires!r} for blob {key!r} is a naive datetime; pass an aware "
                    "one (datetime.now(UTC) + ...) or a timedelta"
                )
            return expires
        when = expires
    else:
        raise TypeError(
            f"expires for blob {key!r} must be a datetime, a timedelta or None; "
            f"got {type(expires).__name__}"
        )
    if not settings.USE_TZ:
        return timezone.make_naive(when)
    return when


def selected_provider(host: Host) -> str:
    """The selected blobs provider's name, for messages ("" if it cannot be resolved)."""
    try:
        return host.selected_provider("blobs")
    except Exception:  # only ever used to enrich a message
        return ""


def delete_contents(host: Host, keys: Iterable[str]) -> int:
    """Delete the content of ``keys``; a failure is logged (the reaper removes it later)."""
    deleted = 0
    for key in keys:
        try:
            deleted += bool(host.call("blobs_delete", key=key))
        except Exception:
            log.exception(
                "could not delete the content of blob %r; `manage.py blobs_reap` will remove it",
                key,
            )
    return deleted


def delete_contents_on_commit(keys: list[str]) -> None:
    """Delete the content of ``keys`` once the current transaction commits (now in autocommit).

    A rolled-back delete therefore loses nothing. Until the commit the content stays, so a
    ``put`` of such a key in the same transaction meets the content and is refused.
    """
    if not keys:
        return
    from django.db import transaction

    transaction.on_commit(ContentDeletion(get_host(), keys), robust=True)


CHECK_BATCH = 500
"""Keys per query when a deletion checks which keys have a row again."""


class ContentDeletion:
    """The on-commit callback of a delete: removes the content of its keys that have no row.

    A key may have a row again by the time the delete commits (a later put of the same key,
    on a provider that replaced the content); that content belongs to the new row and stays.
    """

    def __init__(self, host: Host, keys: list[str]) -> None:
        self.host = host
        self.keys = keys

    def __call__(self) -> None:
        model = meta_model()
        try:
            stored = {
                key
                for batch in batched(self.keys, CHECK_BATCH)
                for key in model.objects.filter(key__in=batch).values_list("key", flat=True)
            }
        except Exception:
            log.exception(
                "could not check whether blobs %s were stored again before deleting their "
                "content; `manage.py blobs_reap` will remove the content of those that were not",
                _sample(self.keys),
            )
            return
        delete_contents(self.host, [key for key in self.keys if key not in stored])


def _sample(keys: list[str], shown: int = 5) -> str:
    listed = ", ".join(repr(key) for key in keys[:shown])
    return listed + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to ``size`` items (``itertools.batched`` needs Python 3.12)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1; got {size}")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
