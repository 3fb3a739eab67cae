"""``python -m bench.areas._openrosa_inprocess``: both receivers' request paths in one process.

Run with hq's settings and environment (a fresh SQLite database in ``TRELLIS_DATA_DIR``):
migrates, seeds (``_openrosa_seed``), then posts area ``openrosa``'s variants through
``django.test.Client`` (the whole middleware stack and view, no HTTP server, one thread, no
lock waits), alternated (``BENCH_VARIANTS``, default ``json,openrosa``): a warm-up, then
``ROUNDS`` rounds of ``PER_ROUND`` posts per variant.
Reports per variant the best and median per-request time, the SQL statements of one post
(their verbs), how many of them run inside a transaction, and the median time a transaction is
open (``BEGIN`` to commit: on hq's SQLite, ``BEGIN IMMEDIATE``, the time the database's one
write lock is held, which bounds the submissions per second of all workers together). With
``BENCH_PROFILE=1`` it also profiles ``PER_ROUND`` posts of each variant with cProfile and
prints the top functions by cumulative and by own time, and Trellis' own by cumulative time,
to stderr. Prints one JSON object
(last line of stdout).
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import runpy
import statistics
import sys
import time
from contextlib import redirect_stdout
from typing import Any

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.areas import _openrosa_payload as p  # noqa: E402

ROUNDS = 5
PER_ROUND = int(os.environ.get("BENCH_PER_ROUND", "60"))
VARIANTS = tuple(os.environ.get("BENCH_VARIANTS", "json,openrosa").split(","))


class _TransactionTimer:
    """Times each transaction from its ``BEGIN`` (``IMMEDIATE`` on hq's SQLite: the database's
    write lock, which every other writer waits for) to its commit, into ``held`` (ms)."""

    def __init__(self) -> None:
        self.held: list[float] = []
        self._began: float | None = None
        self._commit = connection._commit  # type: ignore[attr-defined]
        self._wrapper = connection.execute_wrapper(self._execute)

    def _execute(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("BEGIN"):
            self._began = time.perf_counter()
        return execute(sql, params, many, context)

    def _committed(self) -> Any:
        result = self._commit()
        if self._began is not None:
            self.held.append((time.perf_counter() - self._began) * 1000)
            self._began = None
        return result

    def __enter__(self) -> _TransactionTimer:
        connection._commit = self._committed  # type: ignore[attr-defined]
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wrapper.__exit__(None, None, None)
        connection._commit = self._commit  # type: ignore[attr-defined]


def main() -> None:
    call_command("migrate", verbosity=0)
    out = io.StringIO()
    with redirect_stdout(out):
        runpy.run_module("bench.areas._openrosa_seed", run_name="__main__")
    auth = json.loads(out.getvalue().strip().splitlines()[-1])["auth"]
    client = Client(HTTP_HOST="127.0.0.1")
    picture = p.image()
    counter = {"n": 0}

    def post(variant: str) -> None:
        counter["n"] += 1
        n = counter["n"]
        body = p.body(variant, f"uuid:inproc-{variant}-{n}", p.VILLAGES[n % 20], n % 9 + 1, picture)
        headers = {**p.headers(variant), "Authorization": auth}
        del headers["Content-Type"]
        response = client.post(
            p.path(variant), data=body, content_type=p.CONTENT_TYPE, headers=headers
        )
        if response.status_code != 201:
            raise SystemExit(
                f"{variant}: expected 201, got {response.status_code}: {response.content!r}"
            )

    for _ in range(40):
        for variant in VARIANTS:
            post(variant)
    statements: dict[str, list[str]] = {}
    for variant in VARIANTS:
        seen: list[str] = []

        def note(
            execute: Any, sql: str, params: Any, many: bool, context: Any, seen: list[str] = seen
        ) -> Any:
            verb = sql.split(" ", 1)[0]
            seen.append(verb + ("*" if not connection.get_autocommit() else ""))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(note):
            post(variant)
        statements[variant] = seen
    per_round: dict[str, list[float]] = {v: [] for v in VARIANTS}
    held: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with _TransactionTimer() as timer:
        for i in range(ROUNDS):
            for variant in VARIANTS if i % 2 == 0 else reversed(VARIANTS):
                timer.held = held[variant]
                start = time.perf_counter()
                for _ in range(PER_ROUND):
                    post(variant)
                per_round[variant].append((time.perf_counter() - start) / PER_ROUND * 1000)
    if os.environ.get("BENCH_PROFILE"):
        for variant in VARIANTS:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(PER_ROUND):
                post(variant)
            profile.disable()
            for key, only in (("cumulative", ""), ("tottime", ""), ("cumulative", "trellis/")):
                text = io.StringIO()
                stats = pstats.Stats(profile, stream=text).sort_stats(key)
                stats.print_stats(*([only] if only else []), 40)
                where = f", {only} only" if only else ""
                print(f"==== {variant} by {key}{where} ({PER_ROUND} posts) ====", file=sys.stderr)
                print(text.getvalue(), file=sys.stderr)
    print(
        json.dumps(
            {
                variant: {
                    "best_ms": min(per_round[variant]),
                    "median_ms": statistics.median(per_round[variant]),
                    "queries": len(statements[variant]),
                    "in_transaction": sum(s.endswith("*") for s in statements[variant]),
                    "transaction_ms": statistics.median(held[variant]) if held[variant] else 0,
                    "transactions_per_post": len(held[variant]) / (ROUNDS * PER_ROUND),
                    "statements": statements[variant],
                }
                for variant in VARIANTS
            }
        )
    )


if __name__ == "__main__":
    main()
