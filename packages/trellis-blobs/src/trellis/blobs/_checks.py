"""Django system checks: unusable blobs settings show in ``manage.py check``, not at first use."""

from __future__ import annotations

from typing import Any

from django.core import checks

from trellis.core import ConfigurationError

from ._settings import max_size


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``TRELLIS_BLOBS_MAX_SIZE`` must parse as a byte count."""
    try:
        max_size()
    except ConfigurationError as exc:
        return [checks.Error(str(exc), id="trellis_blobs.E001")]
    return []
