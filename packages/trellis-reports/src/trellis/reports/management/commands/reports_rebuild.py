"""``manage.py reports_rebuild <domain> <slug> | --all [--domain D]``: recompute reports."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..._errors import ReportsError
from ...selectors import report_list
from ...services import RebuildResult, report_rebuild


class ProgressLine:
    """``domain/slug: 12,000 records (3,400/s)`` rewritten in place on a terminal's stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.label = ""
        self.tty = stream.isatty()

    def start(self, label: str) -> None:
        """A report's rebuild begins: its rate counts from now."""
        self.label, self.started = label, time.monotonic()

    def __call__(self, label: str, read: int) -> None:
        if label != self.label:
            self.start(label)
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
        if all:
            names = [(r.domain, r.slug) for r in report_list(domain=domain)]
        else:
            assert domain is not None
            assert slug is not None
            names = [(domain, slug)]
        failed = []
        for report_domain, report_slug in names:
            label = f"{report_domain}/{report_slug}"
            try:
                result = self._rebuild(report_domain, report_slug, label, progress)
            except ReportsError as exc:
                if not all:
                    raise CommandError(str(exc)) from exc
                failed.append(label)
                self.stderr.write(f"{label}: not rebuilt: {exc}")
            except Exception as exc:  # a source failed: its transaction rolled back
                message = (
                    f"{label}: not rebuilt, its numbers are unchanged: "
                    f"{exc.__class__.__name__}: {exc}"
                )
                if not all:
                    raise CommandError(message) from exc
                failed.append(label)
                self.stderr.write(message)
            else:
                self.stdout.write(
                    f"rebuilt {result.domain}/{result.slug}: {result.counted} of {result.read} "
                    f"record(s) counted in {result.groups} row(s), {result.seconds:.1f} s"
                )
        if not names:
            self.stdout.write("no reports to rebuild")
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(names)} report(s) failed: {', '.join(failed)}"
            )

    def _rebuild(
        self, domain: str, slug: str, label: str, progress: ProgressLine | None
    ) -> RebuildResult:
        if progress is None:
            return report_rebuild(domain=domain, slug=slug)
        progress.start(label)
        try:
            return report_rebuild(domain=domain, slug=slug, progress=lambda n: progress(label, n))
        finally:
            progress.done()
