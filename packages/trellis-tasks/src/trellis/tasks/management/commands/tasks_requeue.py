"""``manage.py tasks_requeue [--older-than SECONDS] [--dry-run]``: resend lost durable tasks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trellis.core import ConfigurationError

from ..._settings import requeue_after
from ...services import tasks_requeue


class Command(BaseCommand):
    help = (
        "Send again every durable task not finished and not touched for --older-than seconds "
        "(its message was lost: broker restarted, send failed). Handlers must be idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help="age threshold (default TRELLIS_TASKS_REQUEUE_AFTER, 3600)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count without sending")

    def handle(self, *args: Any, older_than: int | None, dry_run: bool, **options: Any) -> None:
        try:
            seconds = requeue_after() if older_than is None else older_than
        except ConfigurationError as exc:
            raise CommandError(f"{exc}; fix the setting or pass --older-than SECONDS") from None
        if seconds < 0:
            raise CommandError(f"--older-than must be at least 0 seconds; got {seconds}")
        report = tasks_requeue(older_than=timedelta(seconds=seconds), dry_run=dry_run)
        verb = "would requeue" if dry_run else "requeued"
        self.stdout.write(f"{verb} {report.requeued} durable task(s) older than {seconds} s")
        if report.failed_to_send:
            raise CommandError(f"{report.failed_to_send} task(s) could not be sent")
