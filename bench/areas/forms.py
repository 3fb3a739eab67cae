"""Benchmark area ``forms``: the submission receiver of composed hq vs a hand-wired Django app.

``POST /a/<domain>/receiver/``, a ~1 KiB JSON submission (``_forms_payload``: nested object,
member array, note; JSON Schema with types, enums, bounds, pattern, ``format``) with one case
block (a ``household`` case created, later updated: 200 case ids per load thread),
``Authorization: ApiKey <user>:<key>``. Every response must be ``201``; anything else (and
every socket error or timeout) is counted and reported as ``*.errors`` (target 0).

Variants, each a gunicorn server (``TRELLIS_BENCH_GUNICORN``, default ``--workers 2 --threads
4`` = hq's Procfile web line; access log off for all) on its own fresh database of one engine:

* ``baseline`` — the hand-wired plain Django project ``bench/areas/_forms_baseline`` (one app,
  one view, startproject middleware, DEBUG off, persistent connections): the same JSON parse,
  the same JSON Schema validation with a validator compiled once per definition and reused,
  the same API-key check (sha256 digest looked up, ``hmac.compare_digest``), domain +
  membership + latest-definition look-ups, then one transaction: idempotency check by client
  id, case ``SELECT ... FOR UPDATE`` + insert/update, case-change row, submission row and two
  outbox rows (``form.submitted``, ``case.changed``: the events trellis-forms publishes), with
  the same tables, unique constraints and indexes as trellis-forms / trellis-events.
* ``hq`` — ``services/hq`` (``hq.wsgi``, every installed plugin composed), embedded profile
  with ``DJANGO_DEBUG=0``, default events provider ``inline``: after each commit the request
  also runs the event processors (sequencing + e.g. trellis-reports' processor) — hq's real
  per-request cost on one machine.
* ``hq_streams`` — the same hq with ``TRELLIS_EVENTS_PROVIDER=redis-streams`` (no consumer
  running: the web process only writes the outbox, like the baseline; the relay's work is
  elsewhere) — the like-for-like comparison, and the web side of the scaled profile.

Engines: ``sqlite`` (embedded profile: SQLite WAL in ``TRELLIS_DATA_DIR``) and ``postgres``
(``DATABASE_URL`` to a fresh ``trellis_bench_forms_*`` database on
``TRELLIS_TEST_DATABASE_URL``'s server, default ``postgres://postgres@127.0.0.1:5432/postgres``,
dropped afterwards). Redis (``hq_streams``): ``TRELLIS_BENCH_REDIS_URL`` (default DB 12), a
unique key prefix, deleted afterwards.

Load: ``wrk`` (closed loop, ``TRELLIS_BENCH_FORMS_CONNECTIONS`` = 16 keep-alive connections,
2 threads, 10 s socket timeout, Lua script making unique submission ids); without ``wrk`` on
``PATH`` the area fails with the install command. Per engine: one 2 s warm-up per variant,
then ``TRELLIS_BENCH_FORMS_ROUNDS`` (4) rounds of ``TRELLIS_BENCH_FORMS_SECONDS`` (6) s per
variant, interleaved (order reversed every other round). Reported: the best round's requests/s
(the least disturbed by the other engineers' processes sharing the 2 cores) and the median
over rounds of p50 / p99 latency; ``rate_ratio_median`` is the median over rounds of
hq's rate / the baseline's rate in the same round (adjacent runs: robust to slow drifts of
the background load). Target (reported, not asserted): hq >= 0.9x baseline requests/s, on
each engine. ``forms.machine.loadavg_1m.*``: the machine's load around the run (2 cores).

Diagnostics (no targets): ``forms.inprocess.*`` — each variant's request path in one process
(``_forms_inprocess``: ``django.test.Client`` through the whole middleware stack and view,
SQLite, one thread, so no lock waits and no HTTP server), best per-request time of 5 rounds
x 150 posts over ``TRELLIS_BENCH_FORMS_INPROCESS_RUNS`` (2) alternated fresh processes, and
the number of SQL statements one post runs (the statements' verbs are printed).

Knobs: ``TRELLIS_BENCH_FORMS_ENGINES`` (``sqlite,postgres``), ``TRELLIS_BENCH_FORMS_VARIANTS``
(``baseline,hq,hq_streams``), the three above. Default run: ~4-5 minutes.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench._common import Record, record
from bench.areas import _forms_harness as h
from bench.areas import _forms_load as load
from bench.areas import _forms_payload as payload
from trellis.core.testing import throwaway_database

ENGINES = [
    e for e in os.environ.get("TRELLIS_BENCH_FORMS_ENGINES", "sqlite,postgres").split(",") if e
]
VARIANTS = os.environ.get("TRELLIS_BENCH_FORMS_VARIANTS", "baseline,hq,hq_streams").split(",")
ROUNDS = int(os.environ.get("TRELLIS_BENCH_FORMS_ROUNDS", "4"))
SECONDS = float(os.environ.get("TRELLIS_BENCH_FORMS_SECONDS", "6"))
CONNECTIONS = int(os.environ.get("TRELLIS_BENCH_FORMS_CONNECTIONS", "16"))
WARMUP_SECONDS = 2
TARGET_RATIO = 0.9
INPROCESS_RUNS = int(os.environ.get("TRELLIS_BENCH_FORMS_INPROCESS_RUNS", "2"))


def _start(stack: ExitStack, variant: str, engine: str, work: Path, prefix: str) -> tuple[str, str]:
    """Prepare and start one variant's server; ``(base URL, Authorization header)``."""
    url = None
    if engine == "postgres":
        url = stack.enter_context(
            throwaway_database(h.POSTGRES_SERVER, f"trellis_bench_forms_{variant}")
        )
    log = work / f"{variant}.log"
    if variant == "baseline":
        env = h.baseline_env(url or f"sqlite:///{work / 'baseline.sqlite3'}")
        h.migrate_baseline(env)
        auth = h.seed_baseline(env)
        app = "bench.areas._forms_baseline.wsgi:application"
    else:
        extra = {}
        if variant == "hq_streams":
            extra = {
                "TRELLIS_EVENTS_PROVIDER": "redis-streams",
                "TRELLIS_EVENTS_REDIS_URL": h.REDIS_URL,
                "TRELLIS_EVENTS_REDIS_PREFIX": f"{prefix}:{engine}",
            }
        env = h.hq_env(work / variant, url, **extra)
        h.migrate_hq(env)
        auth = str(h.seed_hq(env)["auth"])
        app = "hq.wsgi:application"
    base = stack.enter_context(h.gunicorn(app, env, log))
    return base, auth


def _engine(engine: str, prefix: str) -> list[Record]:
    rounds: dict[str, list[load.LoadResult]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix=f"trellis-bench-forms-{engine}-") as name:
        work = Path(name)
        with ExitStack() as stack:
            servers = {v: _start(stack, v, engine, work, prefix) for v in VARIANTS}

            def hit(variant: str, label: str, seconds: float) -> load.LoadResult:
                base, auth = servers[variant]
                return load.wrk(
                    base,
                    domain=payload.DOMAIN,
                    auth=auth,
                    prefix=f"{prefix}-{label}",
                    seconds=seconds,
                    connections=CONNECTIONS,
                )

            for variant in VARIANTS:
                hit(variant, f"{variant}-warm", WARMUP_SECONDS)
            order = list(VARIANTS)
            for i in range(ROUNDS):
                for variant in order if i % 2 == 0 else reversed(order):
                    rounds[variant].append(hit(variant, f"{variant}-r{i}", SECONDS))
    records: list[Record] = []
    base = rounds.get("baseline")
    base_rate = max(r.rate for r in base) if base else None

    def mid(results: list[load.LoadResult], attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in results))

    for variant in VARIANTS:
        results = rounds[variant]
        name = f"forms.receiver.{engine}.{variant}"
        rate = max(r.rate for r in results)
        if variant == "baseline" or base is None:
            records.append(record(f"{name}.rate", rate, "req/s"))
        else:
            records.append(
                record(
                    f"{name}.rate",
                    rate,
                    "req/s",
                    baseline_name="baseline.rate",
                    baseline_value=base_rate,
                    target=f">= {TARGET_RATIO}x baseline",
                    check=lambda v, r: r is not None and r >= TARGET_RATIO,
                )
            )
        if variant != "baseline" and base is not None:
            paired = [r.rate / b.rate for r, b in zip(results, base, strict=True)]
            records.append(
                record(
                    f"{name}.rate_ratio_median",
                    float(statistics.median(paired)),
                    "x",
                    target=f">= {TARGET_RATIO}x (round by round)",
                    check=lambda v, _: v >= TARGET_RATIO,
                )
            )
        for attr in ("p50_ms", "p99_ms"):
            records.append(
                record(
                    f"{name}.{attr.split('_')[0]}",
                    mid(results, attr),
                    "ms",
                    baseline_name=None
                    if variant == "baseline" or not base
                    else f"baseline.{attr.split('_')[0]}",
                    baseline_value=None if variant == "baseline" or not base else mid(base, attr),
                )
            )
        errors = sum(r.errors for r in results)
        records.append(
            record(
                f"{name}.errors",
                errors,
                "non-201",
                target=f"0 of {sum(r.ok for r in results) + errors}",
                check=lambda v, _: v == 0,
            )
        )
        codes = " ".join(r.detail.get("codes", "") for r in results).split()
        if codes:
            print(f"{name}: non-201 statuses (first ones): {' '.join(codes[:20])}")
    return records


def _inprocess() -> list[Record]:
    """Each variant's request path in one process (``_forms_inprocess``), SQLite, alternated
    over ``INPROCESS_RUNS`` fresh processes each; the best per-request time and the SQL
    statements of one post."""
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    order = list(VARIANTS)
    for i in range(INPROCESS_RUNS):
        for variant in order if i % 2 == 0 else reversed(order):
            with tempfile.TemporaryDirectory(prefix="trellis-bench-forms-inproc-") as name:
                work = Path(name)
                if variant == "baseline":
                    env = h.baseline_env(f"sqlite:///{work / 'db.sqlite3'}")
                    env["BENCH_SEED"] = "baseline"
                else:
                    extra = {"BENCH_SEED": "hq"}
                    if variant == "hq_streams":
                        extra.update(
                            TRELLIS_EVENTS_PROVIDER="redis-streams",
                            TRELLIS_EVENTS_REDIS_URL=h.REDIS_URL,
                            TRELLIS_EVENTS_REDIS_PREFIX=f"trellis-bench-forms-inproc-{i}",
                        )
                    env = h.hq_env(work, None, **extra)
                out = h.run_checked([h.PYTHON, "-m", "bench.areas._forms_inprocess"], env)
                results[variant].append(h.last_json(out))
    records: list[Record] = []
    base = results.get("baseline")
    for variant in VARIANTS:
        best = min(r["best_ms"] for r in results[variant])
        queries = results[variant][0]["queries"]
        verbs = " ".join(results[variant][0]["statements"])
        print(f"forms.inprocess.{variant} SQL of one post: {verbs}")
        if variant == "baseline" or not base:
            records.append(record(f"forms.inprocess.sqlite.{variant}.per_request", best, "ms"))
            records.append(record(f"forms.inprocess.{variant}.sql_statements", queries, "count"))
            continue
        records.append(
            record(
                f"forms.inprocess.sqlite.{variant}.per_request",
                best,
                "ms",
                baseline_name="baseline.per_request",
                baseline_value=min(r["best_ms"] for r in base),
            )
        )
        records.append(
            record(
                f"forms.inprocess.{variant}.sql_statements",
                queries,
                "count",
                baseline_name="baseline.sql_statements",
                baseline_value=base[0]["queries"],
            )
        )
    return records


def run() -> list[Record]:
    if not load.have_wrk():
        raise SystemExit("area forms needs wrk on PATH: apt-get install -y wrk")
    prefix = f"trellis-bench-forms-{uuid.uuid4().hex[:8]}"
    records: list[Record] = [h.loadavg_record("forms.machine.loadavg_1m.start")]
    try:
        if INPROCESS_RUNS:
            records += _inprocess()
        for engine in ENGINES:
            records += _engine(engine, prefix)
        records.append(h.loadavg_record("forms.machine.loadavg_1m.end"))
    finally:
        if "hq_streams" in VARIANTS:
            h.clean_redis(h.REDIS_URL, prefix)
    return records
