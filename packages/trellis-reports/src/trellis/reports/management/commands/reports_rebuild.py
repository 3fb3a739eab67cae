"""``manage.py reports_rebuild <domain> <slug> | --all [--domain D]``: recompute reports."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..._errors import ReportsError
from ...services import report_rebuild, report_rebuild_all


class ProgressLine:
    """``domain/slug: 12,000 records (3,400/s)`` rewritten in place on a terminal's stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.label = ""
        self.tty = stream.isatty()

    def __call__(self, label: str, read: int) -> None:
        if label != self.label:
            self.label, self.started = label, time.monotonic()
        rate = read / max(time.monotonic() - self.started, 1e-6)
        line = f"{label}: {read:,} records read ({rate:,.0f}/s)"
        self.stream.write(f"\r{line}\033[K" if self.tty else f"{line}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.label:
            self.stream.write("\n")


class Command(BaseCommand):
    help = (
        "Recompute reports from their sources' raw records (one transaction per report; the "
        "events processor waits meanwhile). Name one report, or take --all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain", nargs="?")
        parser.add_argument("slug", nargs="?")
        parser.add_argument("--all", action="store_true", help="every report (of DOMAIN if given)")
        parser.add_argument("--quiet", action="store_true", help="no progress line")

    def handle(
        self,
        *args: Any,
        domain: str | None,
        slug: str | None,
        all: bool,
        quiet: bool,
        **options: Any,
    ) -> None:
        if all == bool(slug):
            raise CommandError(
                "name a report (<domain> <slug>) or give --all (optionally <domain>)"
            )
        progress = None if quiet else ProgressLine(getattr(self.stderr, "_out", sys.stderr))
        try:
            if all:
                results = report_rebuild_all(domain=domain, progress=progress)
            else:
                assert domain is not None
                assert slug is not None
                label = f"{domain}/{slug}"
                step = None if progress is None else (lambda n: progress(label, n))
                results = [report_rebuild(domain=domain, slug=slug, progress=step)]
        except ReportsError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if progress is not None:
                progress.done()
        for result in results:
            self.stdout.write(
                f"rebuilt {result.domain}/{result.slug}: {result.counted} of {result.read} "
                f"record(s) counted in {result.groups} row(s), {result.seconds:.1f} s"
            )
        if not results:
            self.stdout.write("no reports to rebuild")
