"""Django app of trellis-reports: definitions, aggregate rows, admin, the rebuild command."""

from __future__ import annotations

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Added to ``INSTALLED_APPS`` by the ``reports`` plugin (or by hand: ``"trellis.reports"``)."""

    name = "trellis.reports"
    label = "trellis_reports"
    verbose_name = "Reports"
    default = True
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from ._checks import check_sources

        checks.register(check_sources)
