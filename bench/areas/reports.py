"""Benchmark area ``reports``: report queries from aggregate rows vs a naive GROUP BY, and
freshness from a committed submission to the report API on hq's scaled profile.

**Query scaling** (``reports.query.<engine>.<size>.*``). Per engine, one fresh database with
hq's schema (``python -m hq migrate``) and, per size, a domain of its own (``bench-10k``...)
with the form and the report (``_reports_defs``: count and avg of ``household_size`` by
village and ISO week, ~1,040 groups) set up through the trellis-forms / trellis-reports
facades, that many raw submission rows bulk-inserted (PostgreSQL ``COPY``, SQLite
``executemany`` — not through HTTP; all sizes share the submissions table, as tenants do) and
the report rebuilt with ``trellis.reports.report_rebuild`` (timed). Then everything is
``ANALYZE``\\ d (PostgreSQL: ``VACUUM (ANALYZE)`` + ``CHECKPOINT``), each report's numbers are
checked against the naive query's (``matches_naive``), and the queries of **every size side by
side** are timed **in-process** (``_reports_driver``; one Django connection, warm) for
~``TRELLIS_BENCH_REPORTS_QUERY_SECONDS`` (12) s: the aggregate queries of all sizes
alternating, then the naive ones alternating, then the aggregate ones again (separate phases:
at 1M a naive query reads ~1 GB and slows the next aggregate queries by evicting caches —
12-22 ms right after one vs 7.5 ms otherwise — which is not the report's cost; the aggregate
phases bracket the naive one so drifting background load hits both):

* ``agg_all`` — ``trellis.reports.report_query(domain=, slug=)``: every row of the report
  (no Django cache involved: the HTTP view caches by version, this is the uncached cost);
* ``agg_village`` — the same with ``filters={"village": ["village-07"]}`` (52 rows);
* ``agg_page`` — the same with ``limit=100``: the JSON API's default page (its baseline is
  ``naive_all``: a naive query computes every group to return any page);
* baselines ``naive_all`` / ``naive_village`` — one SQL ``GROUP BY`` over the submissions
  table's JSON (``->>`` and ``date_trunc('week')`` on PostgreSQL; ``json_extract`` and
  ``date(..., '-6 days', 'weekday 1')`` on SQLite), the same groups and numbers, fetched.

Targets: aggregate p50 < 10 ms at every size, and flat as data grows
(``agg_all.p50_growth`` = p50 at the largest size / p50 at the smallest, measured in the same
rounds: <= 1.5x).
Default sizes: 10k and 100k on PostgreSQL and SQLite, plus 1M on PostgreSQL (~1 GB of rows:
~25 s of COPY, a ~85-110 s rebuild, VACUUM, ~3 s naive queries: about +2.5 min; the whole
default run took ~4 min here). ``TRELLIS_BENCH_SCALE=small`` skips the 1M point (the table
says so).

**Freshness** (``reports.freshness.*``): the scaled profile — PostgreSQL (fresh
``trellis_bench_reports_*`` database), ``TRELLIS_EVENTS_PROVIDER=redis-streams`` on
``TRELLIS_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/12``) under a unique key prefix
(deleted afterwards), hq under gunicorn (``TRELLIS_BENCH_GUNICORN``, default 2 workers x 4
threads) and a real ``python -m hq events_consume`` process (as services/hq/Procfile). A paced
open-loop load of ``TRELLIS_BENCH_FRESHNESS_RATE`` (100) submissions/s (``_forms_load.
PacedLoad``) runs for ``TRELLIS_BENCH_FRESHNESS_SECONDS`` (30) s while 3 probe threads
(``_reports_fresh``) post a submission of a new village and poll the report API
(``?village=``, every 25 ms, over HTTP) until its row appears. Target: p99 < 2 s, from the
``201`` (the commit is before it). Afterwards, the report's total must equal the number of
``201``\\ s (``final_total_matches``; waited for up to 60 s).

Knobs: ``TRELLIS_BENCH_REPORTS_ENGINES`` (``postgres,sqlite``), ``TRELLIS_BENCH_REPORTS_SIZES``
(``10000,100000``), ``TRELLIS_BENCH_SCALE`` (``small``: no 1,000,000 point on PostgreSQL),
``TRELLIS_BENCH_REPORTS_PARTS`` (``query,freshness``), the ones above. Default run ~5 min.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, Record, record
from bench.areas import _forms_harness as h
from bench.areas import _forms_load as load
from bench.areas import _forms_payload as payload
from bench.areas import _reports_defs as defs
from bench.areas import _reports_fresh as fresh
from trellis.core.testing import throwaway_database

ENGINES = [
    e for e in os.environ.get("TRELLIS_BENCH_REPORTS_ENGINES", "postgres,sqlite").split(",") if e
]
SIZES = [int(s) for s in os.environ.get("TRELLIS_BENCH_REPORTS_SIZES", "10000,100000").split(",")]
BIG = 1_000_000
SCALE_1M = os.environ.get("TRELLIS_BENCH_SCALE", "1m").lower() not in {"small", "0", "no"}
PARTS = os.environ.get("TRELLIS_BENCH_REPORTS_PARTS", "query,freshness").split(",")
RATE = float(os.environ.get("TRELLIS_BENCH_FRESHNESS_RATE", "100"))
SECONDS = float(os.environ.get("TRELLIS_BENCH_FRESHNESS_SECONDS", "30"))
P50_TARGET_MS = 10.0
GROWTH_TARGET = 1.5
FRESH_TARGET_MS = 2000.0


def _label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"


def _driver(env: dict[str, str], sizes: list[int]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [h.PYTHON, "-m", "bench.areas._reports_driver", ",".join(map(str, sizes))],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        timeout=3600 if BIG in sizes else 900,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"reports driver failed ({proc.returncode})")
    return [
        json.loads(line.removeprefix("BENCH_JSON "))
        for line in proc.stdout.splitlines()
        if line.startswith("BENCH_JSON ")
    ]


def _query_records(engine: str) -> list[Record]:
    sizes = sorted(set(SIZES + ([BIG] if SCALE_1M and engine == "postgres" else [])))
    with (
        tempfile.TemporaryDirectory(prefix=f"trellis-bench-reports-{engine}-") as name,
        ExitStack() as stack,
    ):
        url = None
        if engine == "postgres":
            url = stack.enter_context(
                throwaway_database(h.POSTGRES_SERVER, "trellis_bench_reports")
            )
        env = h.hq_env(Path(name) / "hq", url)
        h.migrate_hq(env)
        results = _driver(env, sizes)
    out: list[Record] = []
    for res in results:
        base = f"reports.query.{engine}.{_label(res['size'])}"
        q = res["queries"]
        for kind in ("all", "village"):
            agg, naive = q[f"agg_{kind}"], q[f"naive_{kind}"]
            out.append(
                record(
                    f"{base}.agg_{kind}.p50",
                    agg["p50"],
                    "ms",
                    baseline_name=f"naive_{kind}.p50",
                    baseline_value=naive["p50"],
                    target=f"< {P50_TARGET_MS:.0f} ms",
                    check=lambda v, _: v < P50_TARGET_MS,
                )
            )
            out.append(
                record(
                    f"{base}.agg_{kind}.p99",
                    agg["p99"],
                    "ms",
                    baseline_name=f"naive_{kind}.p99",
                    baseline_value=naive["p99"],
                )
            )
        page, naive_all = q["agg_page"], q["naive_all"]
        out.append(
            record(
                f"{base}.agg_page.p50",
                page["p50"],
                "ms",
                baseline_name="naive_all.p50",
                baseline_value=naive_all["p50"],
                target=f"< {P50_TARGET_MS:.0f} ms",
                check=lambda v, _: v < P50_TARGET_MS,
            )
        )
        out.append(
            record(
                f"{base}.agg_page.p99",
                page["p99"],
                "ms",
                baseline_name="naive_all.p99",
                baseline_value=naive_all["p99"],
            )
        )
        check = res["check"]
        out.append(
            record(
                f"{base}.matches_naive",
                1.0 if check["match"] else 0.0,
                "bool",
                target=f"1 ({check['groups']} groups, {check['records']} records)",
                check=lambda v, _: v == 1.0,
            )
        )
        out.append(record(f"{base}.generate", res["generate_s"], "s"))
        out.append(record(f"{base}.rebuild", res["rebuild_s"], "s"))
    if len(results) > 1:
        first, last = results[0], results[-1]
        out.append(
            record(
                f"reports.query.{engine}.agg_all.p50_growth_{_label(first['size'])}_to_"
                f"{_label(last['size'])}",
                last["queries"]["agg_all"]["p50"],
                "ms",
                baseline_name=f"agg_all.p50 at {_label(first['size'])}",
                baseline_value=first["queries"]["agg_all"]["p50"],
                target=f"<= {GROWTH_TARGET}x (flat)",
                check=lambda v, r: r is not None and r <= GROWTH_TARGET,
            )
        )
    if engine == "postgres" and not SCALE_1M:
        out.append(
            Record(
                name=f"reports.query.{engine}.1m",
                value=0.0,
                unit="skipped: TRELLIS_BENCH_SCALE=small",
            )
        )
    return out


def _freshness() -> list[Record]:
    prefix = f"trellis-bench-reports-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="trellis-bench-fresh-") as name, ExitStack() as stack:
        work = Path(name)
        try:
            url = stack.enter_context(
                throwaway_database(h.POSTGRES_SERVER, "trellis_bench_reports_fresh")
            )
            env = h.hq_env(
                work / "hq",
                url,
                TRELLIS_EVENTS_PROVIDER="redis-streams",
                TRELLIS_EVENTS_REDIS_URL=h.REDIS_URL,
                TRELLIS_EVENTS_REDIS_PREFIX=prefix,
            )
            h.migrate_hq(env)
            auth = str(h.seed_hq(env, report=True)["auth"])
            base = stack.enter_context(h.gunicorn("hq.wsgi:application", env, work / "web.log"))
            consumer = stack.enter_context(
                h.process([h.PYTHON, "-m", "hq", "events_consume"], env, work / "consumer.log")
            )
            host, port = "127.0.0.1", int(base.rsplit(":", 1)[1])
            warm = fresh.Probes(host, port, auth, defs.SLUG, f"{prefix}-warm", threads=1)
            conn = http.client.HTTPConnection(host, port, timeout=10)
            # The whole chain works (this also waits for the consumer to take its leases).
            if warm.probe_once(conn, 0, 0) is None:
                raise RuntimeError(
                    f"warm-up probe failed: {warm.errors}\n"
                    f"{(work / 'consumer.log').read_text()[-3000:]}"
                )
            conn.close()
            background = load.PacedLoad(
                host, port, domain=payload.DOMAIN, auth=auth, prefix=f"{prefix}-load", rate=RATE
            ).start()
            time.sleep(3)  # the load reaches its pace before the probes start
            probes = fresh.Probes(host, port, auth, defs.SLUG, f"{prefix}-probe").start()
            time.sleep(SECONDS)
            probes.stop()
            background.stop()
            if consumer.poll() is not None:
                tail = (work / "consumer.log").read_text()[-3000:]
                raise RuntimeError(f"events_consume exited:\n{tail}")
            loaded = background.result()
            expected = loaded.ok + probes.posted + 1  # + the warm-up probe
            deadline = time.monotonic() + 60
            total = fresh.report_total(host, port, auth, defs.SLUG)
            while total != expected and time.monotonic() < deadline:
                time.sleep(0.5)
                total = fresh.report_total(host, port, auth, defs.SLUG)
            drained_s = 60 - max(0.0, deadline - time.monotonic())
        finally:
            stack.close()
            h.clean_redis(h.REDIS_URL, prefix)
    if not probes.fresh_ms:
        raise RuntimeError(f"no probe became visible: {probes.errors}")
    n = len(probes.fresh_ms)
    probe_errors = sum(probes.errors.values())
    if probes.errors or loaded.errors:
        print(
            f"reports.freshness: probe errors {probes.errors}; load statuses "
            f"{loaded.detail['statuses']}",
            file=sys.stderr,
        )
    return [
        record("reports.freshness.p50", pct(probes.fresh_ms, 0.5), "ms"),
        record(
            "reports.freshness.p99",
            pct(probes.fresh_ms, 0.99),
            "ms",
            target=f"< {FRESH_TARGET_MS:.0f} ms ({n} probes)",
            check=lambda v, _: v < FRESH_TARGET_MS,
        ),
        record("reports.freshness.p99_from_post_start", pct(probes.fresh_from_send_ms, 0.99), "ms"),
        record("reports.freshness.max", max(probes.fresh_ms), "ms"),
        record(
            "reports.freshness.load_rate",
            loaded.rate,
            "req/s",
            baseline_name="offered",
            baseline_value=RATE,
        ),
        record("reports.freshness.load_p50", loaded.p50_ms, "ms"),
        record("reports.freshness.load_p99", loaded.p99_ms, "ms"),
        record(
            "reports.freshness.errors",
            float(loaded.errors + probe_errors),
            "count",
            target=f"0 of {loaded.ok + loaded.errors + probes.posted + probe_errors}",
            check=lambda v, _: v == 0,
        ),
        record(
            "reports.freshness.final_total_matches",
            1.0 if total == expected else 0.0,
            "bool",
            target=f"1 (report {total} vs {expected} 201s, {drained_s:.1f} s after load)",
            check=lambda v, _: v == 1.0,
        ),
    ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run() -> list[Record]:
    records: list[Record] = [h.loadavg_record("reports.machine.loadavg_1m.start")]
    if "freshness" in PARTS:
        records += _freshness()
    if "query" in PARTS:
        for engine in ENGINES:
            records += _query_records(engine)
    records.append(h.loadavg_record("reports.machine.loadavg_1m.end"))
    return records
