"""Benchmark area ``events``: publish (committed) to handler, inline vs redis-streams.

Side by side in one run, on one PostgreSQL database (a throwaway one) and the local Redis:

* **inline**: one process publishes 10 events per transaction; the processors run in that
  process right after each commit.
* **redis-streams**: the same publisher; a real ``manage.py events_consume`` process (relay +
  consumer, 4 partitions) handles them.
* **raw streams** (baseline): the same JSON ``XADD``\\ ed in pipelines of 10 by one process and
  read by another with ``XREADGROUP`` (count 200) + ``XACK`` — what Redis Streams cost
  without an outbox, checkpoints or Django.

The sink processor (batch 200) only appends ``(published, handled)`` times to a file.
Records: ``events/s`` from the first publish to the last handle, and p50/p99 of
publish-to-handle latency (``time.time()`` taken at ``publish()``; the transaction commits up to
9 publishes later). Targets: redis-streams >= 2,000 events/s with p99 < 1 s.

``outbox_cost`` is the median time of a transaction inserting one domain row with
``publish()`` against the same transaction without it (interleaved, provider redis-streams, so
no handler runs in the publisher). Target: adds <= 1 ms.

Set ``TRELLIS_TEST_DATABASE_URL`` for another PostgreSQL server; Redis comes from
``TRELLIS_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

from bench._common import Record, clean_env, record
from bench.areas import _events_app
from trellis.core.testing import throwaway_database

EVENTS = 10_000
OFFERED_RATE = 2500.0
OVERHEAD_ROUNDS = 400
RATE_TARGET = 2000.0
P99_TARGET_MS = 1000.0
OVERHEAD_TARGET_MS = 1.0
DRIVER = Path(__file__).with_name("_events_driver.py")


def _driver(env: dict[str, str], work: Path, mode: str, n: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(DRIVER), mode, str(n), str(OFFERED_RATE)],
        env={**env, "BENCH_RUN": mode},
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"events driver {mode} failed:\n{result.stderr[-4000:]}")
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def run() -> list[Record]:
    server = os.environ.get(
        "TRELLIS_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = os.environ.get("TRELLIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"trellis-bench:{uuid.uuid4().hex[:8]}"
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="trellis-bench-events-") as name:
        work = Path(name)
        (work / "bench_events_plugin.py").write_text(
            textwrap.dedent(_events_app.PLUGIN), encoding="utf-8"
        )
        base = clean_env(
            DJANGO_SETTINGS_MODULE="bench_events_settings",
            PYTHONPATH=str(work),
            BENCH_EVENTS_DIR=str(work),
            TRELLIS_EVENTS_REDIS_URL=redis_url,
            TRELLIS_EVENTS_REDIS_PREFIX=prefix,
            TRELLIS_EVENTS_PARTITIONS="4",
        )
        try:
            # A fresh database per variant: each starts from an empty outbox and no checkpoints.
            for mode, provider, n in (
                ("inline", "inline", EVENTS),
                ("redis-streams", "redis-streams", EVENTS),
                ("drain", "redis-streams", EVENTS),
                ("raw", "redis-streams", EVENTS),
                ("overhead", "redis-streams", OVERHEAD_ROUNDS),
            ):
                with throwaway_database(server, "trellis_bench_events") as url:
                    (work / "bench_events_settings.py").write_text(
                        f"DATABASE = {url!r}\n" + textwrap.dedent(_events_app.SETTINGS),
                        encoding="utf-8",
                    )
                    env = {
                        **base,
                        "TRELLIS_EVENTS_PROVIDER": provider,
                        "TRELLIS_EVENTS_REDIS_PREFIX": f"{prefix}:{mode}",
                    }
                    subprocess.run(
                        [sys.executable, "-m", "django", "migrate", "-v0"],
                        env=env,
                        cwd=work,
                        check=True,
                        timeout=300,
                        capture_output=True,
                    )
                    results[mode] = _driver(env, work, mode, n)
        finally:
            _clean_redis(redis_url, prefix)
    inline, streams, drain, raw, cost = (
        results[m] for m in ("inline", "redis-streams", "drain", "raw", "overhead")
    )
    return [
        record(
            "events.inline.rate",
            inline["rate"],
            "events/s",
            baseline_name="raw_streams.rate",
            baseline_value=raw["rate"],
        ),
        record("events.inline.latency_p50", inline["p50_ms"], "ms"),
        record("events.inline.latency_p99", inline["p99_ms"], "ms"),
        record(
            "events.redis_streams.rate",
            streams["rate"],
            "events/s",
            baseline_name="raw_streams.rate",
            baseline_value=raw["rate"],
            target=f">= {RATE_TARGET:.0f} events/s",
            check=lambda v, _: v >= RATE_TARGET,
        ),
        record(
            "events.redis_streams.latency_p50",
            streams["p50_ms"],
            "ms",
            baseline_name="raw_streams.latency_p50",
            baseline_value=raw["p50_ms"],
        ),
        record(
            "events.redis_streams.latency_p99",
            streams["p99_ms"],
            "ms",
            baseline_name="raw_streams.latency_p99",
            baseline_value=raw["p99_ms"],
            target=f"< {P99_TARGET_MS:.0f} ms",
            check=lambda v, _: v < P99_TARGET_MS,
        ),
        record("events.raw_streams.rate", raw["rate"], "events/s"),
        record(
            "events.redis_streams.published_rate",
            streams["published_rate"],
            "events/s",
            baseline_name="offered",
            baseline_value=OFFERED_RATE,
        ),
        record(
            "events.redis_streams.backlog_drain_rate",
            drain["handle_span_rate"],
            "events/s",
            target=f">= {RATE_TARGET:.0f} events/s",
            check=lambda v, _: v >= RATE_TARGET,
        ),
        record(
            "events.outbox_cost.txn_with_publish",
            cost["publish"],
            "ms",
            baseline_name="txn_without_publish",
            baseline_value=cost["plain"],
            target=f"adds <= {OVERHEAD_TARGET_MS:.0f} ms",
            check=lambda v, _: v - cost["plain"] <= OVERHEAD_TARGET_MS,
        ),
    ]


def _clean_redis(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
