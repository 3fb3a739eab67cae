"""Django app of trellis-tasks: durable records, heartbeats, idempotency keys, commands."""

from __future__ import annotations

from django.apps import AppConfig


class TasksConfig(AppConfig):
    """Added to ``INSTALLED_APPS`` by the ``tasks`` plugin (or by hand: ``"trellis.tasks"``)."""

    name = "trellis.tasks"
    label = "trellis_tasks"
    verbose_name = "Tasks"
    default = True
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from ._checks import check_settings

        checks.register(check_settings)
