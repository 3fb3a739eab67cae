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

    Settings follow :meth:`Config.load`: ``TRELLIS_*`` environment variables, then Django
    settings of the same names and the ``TRELLIS`` dict when Django is configured. Entry points
    are scanned and settings read once per process.
    """
    host = _host
    if host is not None:
        return host
    with _lock:
        if _host is None:
            trellis, named = _django_settings()
            set_host(create_host(Config.load(trellis, named=named)))
        assert _host is not None
        return _host


def set_host(host: Host | None) -> None:
    """Replace the process-wide host (``None`` rebuilds it on next use); for tests and glue."""
    global _host
    _host = host


def _django_settings() -> tuple[Mapping[str, object] | None, dict[str, object]]:
    """Django's ``TRELLIS`` dict and its ``TRELLIS_*`` settings, when Django is configured."""
    if "django.conf" not in sys.modules:
        return None, {}
    from django.conf import settings

    if not settings.configured:
        return None, {}
    value = getattr(settings, "TRELLIS", None)
    named = {name: getattr(settings, name) for name in dir(settings) if name.startswith("TRELLIS_")}
    return (value if isinstance(value, Mapping) else None), named
