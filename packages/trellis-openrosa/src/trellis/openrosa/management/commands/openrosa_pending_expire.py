"""``manage.py openrosa_pending_expire [--older-than HOURS]``: drop abandoned split submissions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...services import PENDING_DAYS, pending_expire


class Command(BaseCommand):
    help = (
        "Remove split submissions (*isIncomplete*) whose last request has not come for "
        f"--older-than hours (default {PENDING_DAYS * 24}): their waiting rows and files. The "
        "openrosa-tasks plugin runs this daily when trellis-tasks is installed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, default=PENDING_DAYS * 24, metavar="HOURS")

    def handle(self, *args: Any, older_than: float, **options: Any) -> None:
        if not older_than > 0:
            raise CommandError("--older-than must be a positive number of hours")
        removed = pending_expire(older_than=timedelta(hours=older_than))
        self.stdout.write(f"{removed} waiting submission(s) removed")
