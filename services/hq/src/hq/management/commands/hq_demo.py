"""``python -m hq hq_demo``: seed the demo project space once (``nox -s serve`` runs it)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Seed, once, the demo domain: a household-visit form, generated submissions and the "
        "report 'Visits per village per week'. Does nothing if the domain exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--submissions", type=int, default=3000, help="how many to generate (default 3000)"
        )
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            help="date the twelve weeks of visits end on, YYYY-MM-DD (default: today)",
        )

    def handle(self, *args: Any, submissions: int, today: date | None, **options: Any) -> None:
        if getattr(settings, "TRELLIS_PROFILE", "embedded") == "production":
            raise CommandError("hq_demo seeds made-up data; it does not run in production")
        if submissions < 0:
            raise CommandError(f"--submissions must be 0 or more, got {submissions}")
        from trellis.core import get_host

        status = {record.name: record for record in get_host().plugins()}
        missing = [
            f"{dist} ({status[name].status}: {status[name].reason})" if name in status else dist
            for dist, name in (("trellis-forms", "forms"), ("trellis-reports", "reports"))
            if name not in status or status[name].status != "active"
        ]
        if missing:  # the glue works without them: no demo then, and no error
            self.stdout.write(f"no demo: {' and '.join(missing)} not active")
            return
        from hq import demo

        tty = self.stdout.isatty()

        def progress(done: int, total: int) -> None:
            if tty:  # one line, rewritten in place
                self.stdout.write(f"\rdemo submissions: {done}/{total}", ending="")
                self.stdout.flush()
            elif done == total or done % 1000 < 250:  # a log: a line now and then
                self.stdout.write(f"demo submissions: {done}/{total}")

        seeded = demo.seed(count=submissions, today=today, progress=progress)
        if seeded.created:
            if tty:
                self.stdout.write("")
            self.stdout.write(
                f"demo seeded: domain {demo.DOMAIN!r}, {seeded.submissions} submissions; "
                f"report at {seeded.report_path}"
            )
        else:
            self.stdout.write(f"demo already seeded; report at {seeded.report_path}")
