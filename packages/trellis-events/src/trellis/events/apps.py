"""Django app of trellis-events: the outbox, checkpoints, dead letters; admin and commands."""

from __future__ import annotations

from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Added to ``INSTALLED_APPS`` by the ``events`` plugin (or by hand: ``"trellis.events"``)."""

    name = "trellis.events"
    label = "trellis_events"
    verbose_name = "Events"
    default = True
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from ._checks import check_settings

        checks.register(check_settings)
