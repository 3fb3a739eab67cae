"""Django glue of trellis-core: compose installed plugins into settings and URLs.

Also the ``trellis.core.django`` app itself (dashboard at ``/``, ``/health``,
``/health/live``, ``/health/ready``) and :class:`EdgeMiddleware` (request ids, JSON errors on
API mounts), both added by trellis-core's built-in plugin. Needs the ``django`` extra.
"""

from __future__ import annotations

from ._compose import api_prefixes, compose, plugin_mounts, plugin_urlpatterns
from ._edge import (
    REQUEST_ID_HEADER,
    EdgeMiddleware,
    api_view,
    is_monitor,
    is_staff,
    json_error,
    protocol_view,
    request_id,
    valid_request_id,
)
from ._profile import EMBEDDED_SECRET_KEY, database_from_env, profile_settings
from ._settings import seconds_setting, setting

__all__ = [
    "EMBEDDED_SECRET_KEY",
    "REQUEST_ID_HEADER",
    "EdgeMiddleware",
    "api_prefixes",
    "api_view",
    "compose",
    "database_from_env",
    "is_monitor",
    "is_staff",
    "json_error",
    "plugin_mounts",
    "plugin_urlpatterns",
    "profile_settings",
    "protocol_view",
    "request_id",
    "seconds_setting",
    "setting",
    "valid_request_id",
]
