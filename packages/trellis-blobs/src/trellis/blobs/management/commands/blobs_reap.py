"""``manage.py blobs_reap [--older-than SECONDS] [--dry-run]``: delete orphaned content."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...services import blobs_reap

DEFAULT_GRACE = 3600


class Command(BaseCommand):
    help = (
        "Delete content that the blob provider holds but no metadata row describes (left by "
        "puts whose transaction rolled back), once it is older than the grace period. The "
        "provider's storage must belong to this blob store alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=DEFAULT_GRACE,
            metavar="SECONDS",
            help=(
                f"grace period (default {DEFAULT_GRACE}); must exceed the longest upload plus "
                "the longest transaction that stores blobs"
            ),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count orphans without deleting them"
        )

    def handle(self, *args: Any, older_than: int, dry_run: bool, **options: Any) -> None:
        if older_than < 0:
            raise CommandError(f"--older-than must be at least 0 seconds; got {older_than}")
        report = blobs_reap(older_than=timedelta(seconds=older_than), dry_run=dry_run)
        action = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"scanned {report.scanned} stored blob(s): {report.orphans} orphan(s) older than "
            f"{older_than} s, {action} {report.orphans if dry_run else report.deleted}; "
            f"{report.too_young} younger orphan(s) kept"
        )
        if report.temp_files:
            self.stdout.write(f"removed {report.temp_files} stale temporary file(s)")
