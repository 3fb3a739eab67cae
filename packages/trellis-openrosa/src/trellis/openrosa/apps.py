"""Django app of trellis-openrosa: XLSForm-defined forms, their media, pending submissions."""

from __future__ import annotations

from django.apps import AppConfig


class OpenRosaConfig(AppConfig):
    """Added to ``INSTALLED_APPS`` by the ``openrosa`` plugin (by hand: ``"trellis.openrosa"``)."""

    name = "trellis.openrosa"
    label = "trellis_openrosa"
    verbose_name = "OpenRosa (field devices)"
    default = True
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core import checks

        from ._checks import check_settings
        from .auth import record_at_login

        checks.register(check_settings)
        user_logged_in.connect(record_at_login, dispatch_uid="trellis.openrosa.digest")
