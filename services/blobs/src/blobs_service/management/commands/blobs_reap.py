"""``python -m blobs_service blobs_reap``: here, only stale temporary files of dead uploads.

This service holds blob content only; the metadata rows live in each caller's database
(ADR 0008), so this service's own ``BlobMeta`` table is empty and trellis-blobs' reaper run
here would take every blob for an orphan and delete it. This command takes its name (an
app listed first in ``INSTALLED_APPS`` wins) and refuses that, pointing at the caller;
``--stale-temp-files`` removes what an upload killed mid-way left (the caller's reaper cannot:
it sees the service's content only through ``blobs_scan``, which skips temporary files).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trellis.core import get_host

DEFAULT_GRACE = 3600


class Command(BaseCommand):
    help = (
        "In the blobs service, remove temporary files left by uploads that died "
        "(--stale-temp-files). Orphaned content is reaped by each caller, which keeps the "
        "metadata: run `manage.py blobs_reap` there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-temp-files",
            action="store_true",
            help="remove temporary files of uploads older than --older-than (filesystem only)",
        )
        parser.add_argument(
            "--older-than",
            type=int,
            default=DEFAULT_GRACE,
            metavar="SECONDS",
            help=f"age of a temporary file before it counts as stale (default {DEFAULT_GRACE})",
        )

    def handle(self, *args: Any, stale_temp_files: bool, older_than: int, **options: Any) -> None:
        if not stale_temp_files:
            raise CommandError(
                "this is the blobs service: it holds content only, and the metadata that says "
                "which content is still wanted lives in its callers' databases. Reaping here "
                "would delete every blob. Run `manage.py blobs_reap` in the caller (hq), or "
                "`blobs_reap --stale-temp-files` here to remove temporary files of dead uploads."
            )
        if older_than < 0:
            raise CommandError(f"--older-than must be at least 0 seconds; got {older_than}")
        provider = get_host().selected_provider("blobs")
        if provider != "filesystem":
            raise CommandError(
                f"the blobs provider here is {provider!r}: only the filesystem provider leaves "
                "temporary files"
            )
        from trellis.blobs.filesystem import remove_stale_temp_files

        removed = remove_stale_temp_files(timedelta(seconds=older_than))
        self.stdout.write(f"removed {removed} stale temporary file(s) older than {older_than} s")
