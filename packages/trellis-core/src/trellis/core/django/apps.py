"""Django app of trellis-core: the plugin dashboard and the ``/health`` endpoint."""

from __future__ import annotations

from django.apps import AppConfig


class TrellisCoreConfig(AppConfig):
    """Registered in ``INSTALLED_APPS`` by trellis-core's built-in plugin."""

    name = "trellis.core.django"
    label = "trellis_core"
    verbose_name = "Trellis"
    default = True
