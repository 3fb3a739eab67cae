"""Benchmark area ``tasks``: throughput and enqueue-to-start latency, eager and celery.

One run measures, side by side, four ways of getting ``bench.tick(sent_at, payload)`` (a
~150-byte JSON payload) started:

* ``eager`` — ``tick.enqueue(...)`` under the eager provider (in-process, after commit: here
  in autocommit, so at once), against its baseline, a **plain call** ``tick(...)``;
* ``celery`` — ``tick.enqueue(...)`` under the celery provider, Redis broker, one real
  ``manage.py tasks_worker --concurrency 2`` process, against its baseline, a **raw Redis
  loop**: the producer ``LPUSH``es the same JSON and two consumer processes ``BRPOP`` it.

For each: ``rate`` (tasks/s: N=2,000 sent back to back, from the first send to the last
start) and ``p50``/``p99`` enqueue-to-start (ms: 200 sent one at a time, each waited for;
``time.time()`` at the send against the task's first line, both processes on one machine).
Workers note each start in a Redis list the producer pops. Three rounds, the variants
interleaved; the best rate and the median percentiles of the rounds are reported.

Needs Redis (``BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/0``); everything runs in
subprocesses with Django settings of their own (``bench/areas/_tasks_settings.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, Record, clean_env, median, record, run_python

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
N = 2000
M = 200
ROUNDS = 3

PRODUCER = """
import json, os, statistics, time
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from bench.areas import _tasks_plugin as bp

MODE = os.environ["BENCH_MODE"]
N, M = int(os.environ["BENCH_N"]), int(os.environ["BENCH_M"])
PAYLOAD = {"domain": "demo", "ids": list(range(10)), "note": "x" * 100}

if MODE in ("celery", "raw"):
    r = bp._redis()
    results = os.environ["BENCH_TASKS_RESULTS"]
    def wait(count):
        out = []
        while len(out) < count:
            item = r.blpop([results], timeout=30)
            if item is None:
                raise SystemExit(f"{MODE}: only {len(out)} of {count} tasks started in 30 s")
            out.append(json.loads(item[1]))
        return out
else:
    def wait(count):
        out = bp.NOTES[:count]
        del bp.NOTES[:count]
        assert len(out) == count, (len(out), count)
        return out

if MODE == "raw":
    queue = os.environ["BENCH_RAW_QUEUE"]
    def send():
        body = {"name": "bench.tick", "kwargs": {"sent_at": time.time(), "payload": PAYLOAD}}
        r.lpush(queue, json.dumps(body))
elif MODE == "call":
    def send():
        bp.tick(sent_at=time.time(), payload=PAYLOAD)
else:
    def send():
        bp.tick.enqueue(sent_at=time.time(), payload=PAYLOAD)

for _ in range(20):
    send()
wait(20)
start = time.time()
for _ in range(N):
    send()
notes = wait(N)
elapsed = max(n[1] for n in notes) - start
latencies = []
for _ in range(M):
    send()
    latencies.extend(n[0] for n in wait(1))
cuts = statistics.quantiles(latencies, n=100)
print(json.dumps({"rate": N / elapsed, "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000}))
"""


def _env(tmp: Path, results: str, **extra: str) -> dict[str, str]:
    prefix = results.rsplit(":", 1)[0] + ":" if results else ""
    return clean_env(
        # The broker's keys of this run under its own prefix, deleted at the end.
        TRELLIS_TASKS_BROKER_TRANSPORT_OPTIONS=json.dumps({"global_keyprefix": prefix}),
        DJANGO_SETTINGS_MODULE="bench.areas._tasks_settings",
        PYTHONPATH=str(REPO_ROOT),
        BENCH_TASKS_DIR=str(tmp),
        BENCH_TASKS_REDIS_URL=REDIS_URL,
        BENCH_TASKS_RESULTS=results,
        TRELLIS_TASKS_BROKER_URL=REDIS_URL,
        **extra,
    )


@contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path, ready: bytes | None
) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while ready is not None and ready not in log.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[2:]} did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            yield
        finally:
            if process.poll() is None:
                os.killpg(process.pid, 15)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def _measure(tmp: Path, mode: str, results: str, **extra: str) -> dict[str, Any]:
    env = _env(tmp, results, BENCH_MODE=mode, BENCH_N=str(N), BENCH_M=str(M), **extra)
    return run_python(PRODUCER, env=env, cwd=REPO_ROOT, timeout=300).output


def run() -> list[Record]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10, socket_connect_timeout=10)
    client.ping()
    run_id = uuid.uuid4().hex[:10]
    results = f"trellis-bench-tasks:{run_id}:results"
    raw_queue = f"trellis-bench-tasks:{run_id}:raw"
    seen: dict[str, list[dict[str, Any]]] = {m: [] for m in ("call", "eager", "raw", "celery")}
    with tempfile.TemporaryDirectory(prefix="trellis-bench-tasks-") as name, ExitStack() as stack:
        tmp = Path(name)
        run_python(
            "import django; django.setup(); from django.core.management import "
            "call_command; call_command('migrate', verbosity=0)",
            env=_env(tmp, results),
            cwd=REPO_ROOT,
        )
        worker_env = _env(tmp, results, TRELLIS_TASKS_PROVIDER="celery")
        worker = [
            sys.executable,
            "-m",
            "django",
            "tasks_worker",
            "--queue=bench",
            "--concurrency=2",
        ]
        stack.enter_context(_process(worker, worker_env, tmp / "worker.log", b" ready."))
        for n in range(2):
            raw = [sys.executable, "-m", "bench.areas._tasks_raw", raw_queue]
            stack.enter_context(_process(raw, _env(tmp, results), tmp / f"raw{n}.log", None))
        try:
            for _ in range(ROUNDS):
                seen["call"].append(_measure(tmp, "call", ""))  # notes kept in-process
                seen["eager"].append(_measure(tmp, "eager", ""))
                seen["raw"].append(_measure(tmp, "raw", results, BENCH_RAW_QUEUE=raw_queue))
                seen["celery"].append(
                    _measure(tmp, "celery", results, TRELLIS_TASKS_PROVIDER="celery")
                )
        finally:
            client.lpush(raw_queue, b"stop", b"stop")
            time.sleep(0.2)
            keys = list(client.scan_iter(match=f"trellis-bench-tasks:{run_id}:*", count=500))
            client.delete(results, raw_queue, *keys)

    def best(mode: str) -> float:
        return float(max(r["rate"] for r in seen[mode]))

    def mid(mode: str, key: str) -> float:
        return median([r[key] for r in seen[mode]])

    records = []
    for mode, baseline, label in (
        ("eager", "call", "plain function call"),
        ("celery", "raw", "raw Redis LPUSH/BRPOP"),
    ):
        records.append(
            record(
                f"tasks.{mode}.rate",
                best(mode),
                "tasks/s",
                baseline_name=f"{label} rate",
                baseline_value=best(baseline),
            )
        )
        for key in ("p50_ms", "p99_ms"):
            records.append(
                record(
                    f"tasks.{mode}.{key.split('_')[0]}_enqueue_to_start",
                    mid(mode, key),
                    "ms",
                    baseline_name=f"{label} {key.split('_')[0]}",
                    baseline_value=mid(baseline, key),
                    target="< 10 ms" if mode == "celery" and key == "p50_ms" else None,
                    check=(lambda v, r: v < 10) if mode == "celery" and key == "p50_ms" else None,
                )
            )
    records.append(
        record(
            "tasks.celery_vs_eager.rate",
            best("celery"),
            "tasks/s",
            baseline_name="eager rate",
            baseline_value=best("eager"),
        )
    )
    records.append(
        record(
            "tasks.celery_vs_eager.p50_enqueue_to_start",
            mid("celery", "p50_ms"),
            "ms",
            baseline_name="eager p50",
            baseline_value=mid("eager", "p50_ms"),
        )
    )
    return records
