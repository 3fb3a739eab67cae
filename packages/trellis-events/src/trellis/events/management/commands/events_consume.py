"""``manage.py events_consume [--processor NAME ...] [--once]``: run event processors."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trellis.core import get_host

from ..._errors import EventsError
from ...consuming import consume


class Command(BaseCommand):
    help = (
        "Run event processors through the selected provider (relay included) until SIGTERM or "
        "SIGINT, which stop it after the current batch; --once stops when caught up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--processor",
            action="append",
            default=[],
            metavar="NAME",
            help="run only this processor (repeatable; default: all)",
        )
        parser.add_argument(
            "--once", action="store_true", help="stop once every committed event is handled"
        )

    def handle(self, *args: Any, processor: list[str], once: bool, **options: Any) -> None:
        try:
            handled = consume(processor, once=once)
        except EventsError as exc:
            raise CommandError(str(exc)) from exc
        provider = get_host().selected_provider("events")
        self.stdout.write(f"handled {handled} event(s) with provider {provider!r}")
