"""``manage.py events_relay [--once]``: only relay the outbox to Redis Streams."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trellis.core import get_host

from ...consuming import stop_on_signals


class Command(BaseCommand):
    help = (
        "Move committed outbox rows to Redis Streams (provider redis-streams) until SIGTERM; "
        "events_consume relays too, so this is for running the relay on its own."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="stop when every committed event has been relayed"
        )

    def handle(self, *args: Any, once: bool, **options: Any) -> None:
        provider = get_host().selected_provider("events")
        if provider != "redis-streams":
            raise CommandError(
                f"events_relay needs TRELLIS_EVENTS_PROVIDER=redis-streams; the selected "
                f"provider is {provider!r}, which needs no relay"
            )
        from ...redis_streams import client, relay

        stop = threading.Event()
        relayed = 0
        r = client()
        with stop_on_signals(stop):
            while not stop.is_set():
                count = relay(r)
                relayed += count
                if not count:
                    if once:
                        break
                    stop.wait(0.2)
        self.stdout.write(f"relayed {relayed} event(s)")
