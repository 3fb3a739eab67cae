"""``manage.py blobs_expire [--batch-size N]``: delete blobs whose expiry has passed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...services import BATCH_SIZE, blobs_expire


class Command(BaseCommand):
    help = (
        "Delete blobs whose expiry has passed (metadata, then content once each batch "
        "commits), in batches. Run it periodically (cron, a systemd timer...)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"blobs deleted per transaction (default {BATCH_SIZE})",
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1; got {batch_size}")
        report = blobs_expire(batch_size=batch_size)
        self.stdout.write(f"deleted {report.deleted} expired blob(s) in {report.batches} batch(es)")
