"""The process-wide host: created once, on first use, from the environment and Django settings."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping

from ._config import Config
from ._host import Host, create_host

_lock = threading.Lock()
_host: Host | None = None


def get_host() -> Host:
    """The process-wide :class:`Host`, built on first use.

    Settings come from Django's ``TRELLIS`` setting when Django is configured, overridden by
    ``TRELLIS_*`` environment variables. Entry points are scanned once per process.
    """
    host = _host
    if host is not None:
        return host
    with _lock:
        if _host is None:
            set_host(create_host(Config.load(_django_settings())))
        assert _host is not None
        return _host


def set_host(host: Host | None) -> None:
    """Replace the process-wide host (``None`` rebuilds it on next use); for tests and glue."""
    global _host
    _host = host


def _django_settings() -> Mapping[str, object] | None:
    if "django.conf" not in sys.modules:
        return None
    from django.conf import settings

    if not settings.configured:
        return None
    value = getattr(settings, "TRELLIS", None)
    return value if isinstance(value, Mapping) else None
