"""Django glue of trellis-core: compose installed plugins into settings and URLs.

Also the ``trellis.core.django`` app itself (dashboard at ``/``, ``/health``), added to
``INSTALLED_APPS`` by trellis-core's built-in plugin. Needs the ``django`` extra.
"""

from __future__ import annotations

from ._compose import compose, plugin_urlpatterns
from ._profile import EMBEDDED_SECRET_KEY, database_from_env, profile_settings

__all__ = [
    "EMBEDDED_SECRET_KEY",
    "compose",
    "database_from_env",
    "plugin_urlpatterns",
    "profile_settings",
]
