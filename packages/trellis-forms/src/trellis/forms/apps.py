"""Django app of trellis-forms: domains, definitions, submissions, cases; admin."""

from __future__ import annotations

from django.apps import AppConfig


class FormsConfig(AppConfig):
    """Added to ``INSTALLED_APPS`` by the ``forms`` plugin (or by hand: ``"trellis.forms"``)."""

    name = "trellis.forms"
    label = "trellis_forms"
    verbose_name = "Forms and cases"
    default = True
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from ._checks import check_settings

        checks.register(check_settings)
