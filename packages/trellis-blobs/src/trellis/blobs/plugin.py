"""The ``blobs`` plugin: defines the contract; adds the app, URLs, health check, staff access.

Registered as entry point ``blobs``. Providers are separate plugins (``blobs-filesystem``,
``blobs-s3``, ``blobs-migrating``) so each can be allowed, denied or replaced on its own.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from trellis.core import HealthCheck, HealthResult, UrlMount, get_host, hookimpl

from . import hookspecs
from ._errors import BlobError, provider_errors
from ._types import BlobInfo

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

TRELLIS_HOOKSPECS = [hookspecs]
TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2", "blobs": ">=1.2,<2"}

HEALTH_PREFIX = "_health/"
"""Keys of health-check probes; a probe left by a killed process is reaped as an orphan."""


def _probe_key() -> str:
    """``_health/<host>-<pid>-<thread>``: unique among probes running at once, and the same
    for every probe of one thread, so probes reuse one place in the store (a random key
    per probe left a new pair of empty fan-out directories on disk each time)."""
    where = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:64] or "host"
    return f"{HEALTH_PREFIX}{where}-{os.getpid()}-{threading.get_ident()}"


@hookimpl
def core_django_apps() -> Sequence[str]:
    return ["trellis.blobs"]


@hookimpl
def core_url_mounts() -> Sequence[UrlMount]:
    return [UrlMount("blobs/", "trellis.blobs.urls", "blobs", api=True)]


@hookimpl
def core_health_checks() -> Sequence[HealthCheck]:
    return [HealthCheck("blobs", round_trip, deep=True)]


@hookimpl
def blobs_can_read(user: AbstractBaseUser | AnonymousUser, info: BlobInfo) -> bool | None:
    """Active staff may read every blob; everyone else needs another plugin's ``True``."""
    return True if user.is_active and getattr(user, "is_staff", False) else None


def round_trip() -> HealthResult:
    """Write, read back and delete a small probe through the selected provider.

    A deep check: the health endpoints run it at most once per interval. The probe is deleted
    whatever happens; its key is the same for every probe of a thread (see
    :func:`_probe_key`); its content is random so a provider answering from a stale cache is
    caught; a provider that raises fails the check with its name in the message. The
    metadata table is queried too (a missing migration shows here).
    """
    from ._rows import meta_model

    host = get_host()
    provider = host.selected_provider("blobs")
    key = _probe_key()
    probe = os.urandom(64)
    details: dict[str, object] = {"provider": provider}
    try:
        with provider_errors(provider, "running the health probe"):
            try:
                written = host.call("blobs_write", key=key, stream=io.BytesIO(probe))
                with host.call("blobs_open", key=key) as stream:
                    read = stream.read()
            finally:
                deleted = host.call("blobs_delete", key=key)
    except BlobError as exc:
        message = str(exc)
        if not message.startswith(f"provider {provider!r}"):
            message = f"provider {provider!r}: {message}"
        return HealthResult("fail", message, details)
    if written != len(probe) or read != probe:
        return HealthResult(
            "fail",
            f"provider {provider!r} returned different content than was written "
            f"({len(read)} bytes read, sha256 {hashlib.sha256(read).hexdigest()[:12]}...)",
            details,
        )
    if not deleted:
        return HealthResult(
            "fail", f"provider {provider!r} did not find its probe to delete", details
        )
    meta_model().objects.only("pk").first()
    return HealthResult(
        "ok", f"provider {provider!r}: write, read and delete of a probe ok", details
    )
