"""``manage.py events_replay [--processor NAME] (--id N ... | --all)``: replay dead letters."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..._errors import EventsError
from ..._registry import select
from ...services import dead_letters_replay


class Command(BaseCommand):
    help = (
        "Run dead letters through their processor again, removing each one that succeeds. "
        "Name them with --id (dead letter ids, as the admin shows) or take --all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--processor", metavar="NAME", help="only this processor's")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--id", type=int, nargs="+", dest="ids", metavar="N")
        which.add_argument("--all", action="store_true")

    def handle(
        self, *args: Any, processor: str | None, ids: list[int] | None, **options: Any
    ) -> None:
        try:
            if processor:
                select([processor])
            report = dead_letters_replay(processor=processor, ids=ids)
        except EventsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"replayed {len(report.replayed)} dead letter(s)")
        for pk, error in report.failed.items():
            self.stderr.write(f"dead letter {pk} failed again: {error}")
        if report.failed:
            raise CommandError(f"{len(report.failed)} dead letter(s) failed again; they are kept")
