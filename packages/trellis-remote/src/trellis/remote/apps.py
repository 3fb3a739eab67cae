"""Django app of trellis-remote: registers its system checks."""

from __future__ import annotations

from django.apps import AppConfig


class RemoteConfig(AppConfig):
    """Added to ``INSTALLED_APPS`` by the ``remote`` plugin."""

    name = "trellis.remote"
    label = "trellis_remote"
    verbose_name = "Remote"
    default = True

    def ready(self) -> None:
        from django.core import checks

        from ._checks import check_settings

        checks.register(check_settings)
