"""``manage.py tasks_worker [--queue Q ...] [--concurrency N] [--beat]``: run a worker."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...worker import run_worker


class Command(BaseCommand):
    help = (
        "Run a worker of the selected tasks provider (TRELLIS_TASKS_PROVIDER): a Celery worker "
        "under celery; under eager there is no worker, and --beat runs the schedules here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue",
            action="append",
            default=[],
            dest="queues",
            help="queue to consume (repeat for several; default: every task's queue)",
        )
        parser.add_argument("--concurrency", type=int, default=None, help="worker processes")
        parser.add_argument(
            "--beat", action="store_true", help="also enqueue the periodic schedules"
        )

    def handle(
        self, *args: Any, queues: list[str], concurrency: int | None, beat: bool, **options: Any
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise CommandError(f"--concurrency must be at least 1; got {concurrency}")
        status = run_worker(queues, concurrency, beat)
        if status:
            raise CommandError(f"the worker exited with status {status}")
