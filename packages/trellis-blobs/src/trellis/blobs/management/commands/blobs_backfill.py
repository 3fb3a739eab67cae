"""``manage.py blobs_backfill``: copy blob content from one provider to another, resumably.

Parses the options, shows progress and prints the report; the work is
:class:`trellis.blobs.backfill.Backfill` (see there, and shared-docs/blobs-providers.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from tqdm import tqdm

from trellis.core import ConfigurationError, Host, get_host

from ...backfill import Backfill, BackfillInterrupted, BackfillReport, CheckpointError
from ...migrating import Migration, check_migration, load_migration


class Command(BaseCommand):
    help = (
        "Copy blob content from the old provider to the new one of the migrating provider "
        "(TRELLIS_BLOBS_MIGRATE_FROM/TO), or --from X --to Y, checking every copy's length and "
        "sha256 against the metadata. Content the new provider already holds is read and "
        "checked the same way before it counts as skipped, which costs one read of each such "
        "blob (--trust-existing: an existence check instead); a copy that does not match is "
        "deleted and copied again. Resumes from a checkpoint after an interruption. Exits 1 "
        "if any blob failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="old", metavar="PROVIDER", help="copy from")
        parser.add_argument("--to", dest="new", metavar="PROVIDER", help="copy to")
        parser.add_argument(
            "--source",
            choices=["metadata", "scan"],
            default="metadata",
            help=(
                "what to copy: every blob of the metadata table in key order, resumable from "
                "a checkpoint (default); or everything the old provider lists, metadata or "
                "not (no checkpoint: a rerun skips what was copied; content without metadata is "
                "checked against the listed length, and a copy that does not match is reported, "
                "not replaced)"
            ),
        )
        parser.add_argument(
            "--checkpoint",
            type=Path,
            metavar="PATH",
            help="checkpoint file (default <TRELLIS_DATA_DIR>/blobs-backfill/<from>-to-<to>.json)",
        )
        parser.add_argument(
            "--restart", action="store_true", help="ignore (and replace) an existing checkpoint"
        )
        parser.add_argument(
            "--jobs", type=int, default=4, metavar="N", help="blobs copied at once (default 4)"
        )
        parser.add_argument(
            "--limit", type=int, metavar="N", help="stop after N blobs (resume later)"
        )
        parser.add_argument(
            "--read-back",
            action="store_true",
            help="also read every copy made by this run back from the new provider and compare it",
        )
        parser.add_argument(
            "--trust-existing",
            action="store_true",
            help=(
                "count content the new provider already holds as skipped after an existence "
                "check, without reading it: saves that read, but a damaged copy left by a "
                "killed run is then not noticed"
            ),
        )
        parser.add_argument(
            "--no-progress",
            action="store_true",
            help=(
                "no progress bar on stderr (there is none either when stderr is not a "
                "terminal, or with --verbosity 0)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        jobs: int = options["jobs"]
        limit: int | None = options["limit"]
        if jobs < 1:
            raise CommandError(f"--jobs must be at least 1; got {jobs}")
        if limit is not None and limit < 1:
            raise CommandError(f"--limit must be at least 1; got {limit}")
        host = get_host()
        migration = self._migration(host, options["old"], options["new"])
        try:
            backfill = Backfill(
                migration,
                host=host,
                source=options["source"],
                checkpoint=options["checkpoint"],
                restart=options["restart"],
            )
        except CheckpointError as exc:
            raise CommandError(str(exc)) from None
        checkpoint = backfill.checkpoint
        if backfill.resumed and checkpoint is not None:
            retry = len(checkpoint.failed)
            self.stdout.write(
                f"resuming from {checkpoint.path}: after key {checkpoint.last_key!r}"
                + (f", retrying {retry} failed blob(s) first" if retry else "")
            )
        total = backfill.remaining()
        if limit is not None and total is not None:
            total = min(total, limit)
        show = not options["no_progress"] and options["verbosity"] > 0 and self.stderr.isatty()
        interrupted = False
        with tqdm(
            total=total, unit=" blob", file=_Plain(self.stderr), disable=not show, mininterval=0.2
        ) as bar:

            def advance(report: BackfillReport) -> None:
                bar.set_postfix_str(
                    f"copied {report.copied}  skipped {report.skipped}  failed {report.failed}"
                    f"  {report.size / 2**20:.1f} MiB",
                    refresh=False,
                )
                bar.update(report.done - bar.n)

            try:
                report = backfill.run(
                    jobs=jobs,
                    limit=limit,
                    read_back=options["read_back"],
                    verify_existing=not options["trust_existing"],
                    on_progress=advance,
                )
            except BackfillInterrupted as exc:
                report, interrupted = exc.report, True
        self._report(migration, report)
        if interrupted:
            raise CommandError(
                "interrupted; run blobs_backfill again to resume from the checkpoint",
                returncode=130,
            )
        if report.failed:
            raise CommandError(
                f"{report.failed} blob(s) failed to copy; fix the causes above and run "
                "blobs_backfill again (failed blobs are retried first)"
            )

    @staticmethod
    def _migration(host: Host, old: str | None, new: str | None) -> Migration:
        try:
            if old is None and new is None:
                return load_migration(host)
            if old is None or new is None:
                raise CommandError("give both --from and --to, or neither (to use the settings)")
            return check_migration(old, new, host=host, sources=("--from", "--to"))
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from None

    def _report(self, migration: Migration, report: BackfillReport) -> None:
        self.stdout.write(
            f"{migration.old} -> {migration.new}: copied {report.copied}, skipped "
            f"{report.skipped}, failed {report.failed} ({report.size / 2**20:.1f} MiB in "
            f"{report.seconds:.1f} s)"
        )
        for key, reason in report.failures.items():
            self.stdout.write(f"failed: {key}: {reason}")
        for key, reason in report.replaced.items():
            self.stdout.write(f"replaced: {key}: {reason}")
        if report.checkpoint is not None:
            self.stdout.write(f"checkpoint: {report.checkpoint}")


class _Plain:
    """The command's stderr as tqdm writes to it: no newline added, no error colouring."""

    def __init__(self, out: OutputWrapper) -> None:
        self._out = out

    def write(self, text: str) -> None:
        self._out.write(text, style_func=_unstyled, ending="")

    def flush(self) -> None:
        self._out.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the real stream's
        return getattr(self._out, name)


def _unstyled(text: str) -> str:
    return text
