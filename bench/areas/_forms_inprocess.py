"""``python -m bench.areas._forms_inprocess``: the receiver's request path in one process.

Run with the settings of hq or of the baseline (``DJANGO_SETTINGS_MODULE`` and their
environment, a fresh SQLite database): migrates, seeds (``BENCH_SEED`` = ``hq`` or
``baseline``), then posts the benchmark's submission through ``django.test.Client`` (the whole
middleware stack and view, no HTTP server, one thread, no lock waits): ``ROUNDS`` rounds of
``PER_ROUND`` posts after a warm-up, and the SQL statements of one post. Prints
``{"best_ms": ..., "median_ms": ..., "queries": ..., "statements": [...]}`` (each statement's
verb; the whole SQL with ``BENCH_FULL_SQL=1``).
"""

from __future__ import annotations

import io
import json
import os
import runpy
import statistics
import time
from contextlib import redirect_stdout
from typing import Any

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.areas import _forms_payload as p  # noqa: E402

ROUNDS = 5
PER_ROUND = 150


def main() -> None:
    seed = os.environ["BENCH_SEED"]
    call_command("migrate", verbosity=0, run_syncdb=seed == "baseline")
    module = "bench.areas._forms_hqseed" if seed == "hq" else "bench.areas._forms_baseline.seed"
    out = io.StringIO()
    with redirect_stdout(out):
        runpy.run_module(module, run_name="__main__")
    auth = json.loads(out.getvalue().strip().splitlines()[-1])["auth"]
    client = Client(HTTP_HOST="127.0.0.1")
    n = 0

    def post() -> None:
        nonlocal n
        n += 1
        body = p.body(f"inproc-{n}", f"inproc-c{n % 200}", p.VILLAGES[n % 20], n % 9 + 1)
        response = client.post(
            f"/a/{p.DOMAIN}/receiver/",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )
        if response.status_code != 201:
            raise SystemExit(f"expected 201, got {response.status_code}: {response.content!r}")

    for _ in range(300):  # warm-up; past the 200 case creations, so the posts below update
        post()
    statements: list[str] = []

    def note(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql if os.environ.get("BENCH_FULL_SQL") else sql.split(" ", 1)[0])
        return execute(sql, params, many, context)

    # (Not CaptureQueriesContext: the test client's request_started signal resets the log.)
    with connection.execute_wrapper(note):
        post()
    per_round = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(PER_ROUND):
            post()
        per_round.append((time.perf_counter() - start) / PER_ROUND * 1000)
    print(
        json.dumps(
            {
                "best_ms": min(per_round),
                "median_ms": statistics.median(per_round),
                "queries": len(statements),
                "statements": statements,
            }
        )
    )


if __name__ == "__main__":
    main()
