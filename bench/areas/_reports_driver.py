"""Driver of area ``reports`` (query scaling), run with hq's settings in a subprocess.

``python -m bench.areas._reports_driver SIZE[,SIZE...]``: per size, a domain of its own
(``bench-10k``...) with the form and the report, that many raw submission rows bulk-inserted
(PostgreSQL ``COPY``, SQLite ``executemany``: never through HTTP) and the report rebuilt
(``trellis.reports.report_rebuild``, timed). Then ``ANALYZE`` (PostgreSQL: ``VACUUM
(ANALYZE)`` and ``CHECKPOINT``), a check that each report's numbers equal the naive query's,
and the queries of every size timed side by side (see :func:`measure`). Prints one
``BENCH_JSON {...}`` line per size. All sizes share one submissions table (as tenants of one
deployment do); the naive query reads one domain's rows.

Rows: ``_forms_payload.data`` (the receiver benchmark's ~1 KiB data) for 20 villages,
household sizes 1-12 and ``received_at`` spread over 52 weeks (about 1,040 groups), all of form
``household_visit``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bench.areas import _forms_payload as p  # noqa: E402
from bench.areas import _reports_defs as defs  # noqa: E402
from trellis import forms, reports  # noqa: E402

QUERY_SECONDS = float(os.environ.get("TRELLIS_BENCH_REPORTS_QUERY_SECONDS", "12"))
AGG_REPEAT = 5  # the aggregate phases run up to this many times the naive rounds
MAX_ROUNDS = 100
MIN_ROUNDS = 5
PAGE = 100
START = datetime(2025, 12, 1, tzinfo=UTC)
SPAN = 364 * 24 * 3600


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed(sizes: list[int]) -> dict[int, tuple[str, tuple[int, int, int]]]:
    """One domain per size (``bench-10k``...), each with the form and the report; the
    device user is a member of all. Size -> (domain, (domain id, form id, user id))."""
    user = get_user_model().objects.create_user(p.USERNAME)
    out = {}
    for size in sizes:
        name = f"{p.DOMAIN}-{label(size)}"
        domain = forms.domain_create(name=name)
        forms.member_add(domain=name, user=user)
        definition = forms.form_define(
            domain=name, name=p.FORM, version=1, schema=p.SCHEMA, case_rules=[p.CASE_RULE]
        )
        defs.define(name)
        out[size] = (name, (domain.pk, definition.pk, user.pk))
    return out


def label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"


def _template() -> str:
    """The data as JSON text with ``%(case)s``, ``%(village)s``, ``%(size)d`` slots."""
    text = json.dumps(p.data("@CASE@", "@VILLAGE@", 77777), separators=(",", ":"))
    assert "%" not in text
    return (
        text.replace("@CASE@", "%(case)s")
        .replace("@VILLAGE@", "%(village)s")
        .replace("77777", "%(size)d")
    )


def rows(start: int, end: int, ids: tuple[int, int, int]) -> Any:
    domain_id, form_id, user_id = ids
    rng = random.Random(start * 7919 + domain_id)
    template = _template()
    for i in range(start, end):
        village = p.VILLAGES[rng.randrange(len(p.VILLAGES))]
        data = template % {"case": f"hh-{i % 5000}", "village": village, "size": rng.randint(1, 12)}
        received = START + timedelta(seconds=rng.randrange(SPAN), microseconds=rng.randrange(10**6))
        submission_id = f"gen-{domain_id}-{i}"
        yield (
            domain_id,
            submission_id,
            form_id,
            p.FORM,
            1,
            received,
            user_id,
            p.USERNAME,
            data,
            "[]",
            "[]",
            f"{i:064x}",
            1,
            submission_id,
        )


COLUMNS = (
    "domain_id, submission_id, form_id, form_name, form_version, received_at, user_id, "
    "username, data, attachments, cases, fingerprint, revision, current_id"
)


def generate(start: int, end: int, ids: tuple[int, int, int]) -> None:
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY trellis_forms_submission ({COLUMNS}) FROM STDIN") as copy,
        ):
            for row in rows(start, end, ids):
                copy.write_row(row)
        return
    sql = f"INSERT INTO trellis_forms_submission ({COLUMNS}) VALUES ({', '.join(['%s'] * 14)})"
    batch: list[Any] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for row in rows(start, end, ids):
            received = row[5].astimezone(UTC).replace(tzinfo=None).isoformat(" ")
            batch.append((*row[:5], received, *row[6:]))
            if len(batch) >= 10_000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)


def analyze() -> None:
    """Statistics for the planner; on PostgreSQL also ``VACUUM`` and a checkpoint, so neither
    autovacuum nor the bulk load's dirty pages compete with the timed queries."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM (ANALYZE)")
            try:
                cursor.execute("CHECKPOINT")
            except Exception:
                log("reports driver: CHECKPOINT not allowed; skipped")
        else:
            cursor.execute("ANALYZE")


def naive(domain_id: int, *, village: bool) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            defs.naive_sql(connection.vendor, village=village),
            defs.naive_params(domain_id, village=village),
        )
        return list(cursor.fetchall())


def agg(domain: str, *, village: bool, limit: int | None = None) -> Any:
    filters = {"village": [defs.FILTER_VILLAGE]} if village else None
    return reports.report_query(domain=domain, slug=defs.SLUG, filters=filters, limit=limit)


def check(domain: str, domain_id: int) -> dict[str, Any]:
    """Whether the report's rows equal the naive query's (groups, counts, averages)."""
    result = agg(domain, village=False)
    mine = {
        (r["village"], r["week"]): (int(r["visits"]), Decimal(str(r["avg_size"])))
        for r in result.rows
    }
    theirs = {(v, w): (int(c), Decimal(str(a))) for v, w, c, a in naive(domain_id, village=False)}
    same_keys = set(mine) == set(theirs)
    same = same_keys and all(
        mine[k][0] == theirs[k][0] and abs(mine[k][1] - theirs[k][1]) < Decimal("1e-6")
        for k in mine
    )
    return {
        "groups": len(mine),
        "naive_groups": len(theirs),
        "match": same,
        "records": sum(c for c, _ in mine.values()),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _phase(
    variants: dict[str, Callable[[], object]],
    samples: dict[str, list[float]],
    seconds: float,
    *,
    min_rounds: int,
    max_rounds: int,
) -> None:
    """Time ``variants`` round by round (order reversed every other round) for ``seconds``."""
    order = list(variants)
    begin = time.monotonic()
    rounds = 0
    while rounds < min_rounds or (rounds < max_rounds and time.monotonic() - begin < seconds):
        for name in order if rounds % 2 == 0 else reversed(order):
            start = time.perf_counter()
            variants[name]()
            samples[name].append((time.perf_counter() - start) * 1000)
        rounds += 1


def measure(domains: dict[int, tuple[str, int]]) -> dict[int, dict[str, dict[str, float]]]:
    """Every size's aggregate queries side by side, then the naive ones, then the aggregate
    ones again. ``domains``: size -> (domain, domain id).

    All sizes are timed in the same rounds, so "flat as data grows" compares them under the
    same background load. The two kinds are timed in separate phases: at 1M rows a naive
    query reads ~1 GB and evicts the pages and CPU caches the next few aggregate queries use
    (measured: 12-22 ms right after one, 7.5 ms otherwise), which is the naive query's cost,
    not the report's. The aggregate phases bracket the naive one, so a drift of the
    background load over the run hits both kinds.
    """
    aggs: dict[str, Callable[[], object]] = {}
    naives: dict[str, Callable[[], object]] = {}
    for size, (domain, domain_id) in domains.items():
        for kind, village in (("all", False), ("village", True)):
            aggs[f"{size}:agg_{kind}"] = partial(agg, domain, village=village)
            naives[f"{size}:naive_{kind}"] = partial(naive, domain_id, village=village)
        # The JSON API's default page (limit 100) of the whole report.
        aggs[f"{size}:agg_page"] = partial(agg, domain, village=False, limit=PAGE)
    samples: dict[str, list[float]] = {name: [] for name in (*aggs, *naives)}
    for fn in (*naives.values(), *aggs.values()):
        fn()  # warm: plans, caches, the connection
    third = QUERY_SECONDS / 3
    _phase(aggs, samples, third / 2, min_rounds=50, max_rounds=MAX_ROUNDS * AGG_REPEAT)
    _phase(naives, samples, third * 2, min_rounds=MIN_ROUNDS, max_rounds=MAX_ROUNDS)
    for fn in aggs.values():
        fn()  # untimed, after the naive phase (see above)
    _phase(aggs, samples, third / 2, min_rounds=50, max_rounds=MAX_ROUNDS * AGG_REPEAT)
    out: dict[int, dict[str, dict[str, float]]] = {size: {} for size in domains}
    for name, values in samples.items():
        size_text, query = name.split(":")
        out[int(size_text)][query] = {
            "p50": statistics.median(values),
            "p99": percentile(values, 0.99),
            "n": len(values),
        }
    return out


def main() -> None:
    sizes = sorted(int(s) for s in sys.argv[1].split(","))
    seeded = seed(sizes)
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        domain, ids = seeded[size]
        started = time.monotonic()
        generate(0, size, ids)
        generated = time.monotonic() - started
        log(f"reports driver: {size} rows generated in {generated:.1f} s; rebuilding")
        rebuilt = reports.report_rebuild(domain=domain, slug=defs.SLUG)
        log(f"reports driver: rebuilt in {rebuilt.seconds:.1f} s")
        results[size] = {
            "size": size,
            "generate_s": generated,
            "rebuild_s": rebuilt.seconds,
            "rebuild_counted": rebuilt.counted,
        }
    analyze()
    for size in sizes:
        domain, ids = seeded[size]
        results[size]["check"] = check(domain, ids[0])
    log("reports driver: measuring")
    queries = measure({size: (seeded[size][0], seeded[size][1][0]) for size in sizes})
    for size in sizes:
        results[size]["queries"] = queries[size]
        print("BENCH_JSON " + json.dumps(results[size]), flush=True)


if __name__ == "__main__":
    main()
