"""Driver of the ``events`` benchmark, run in a subprocess with Django configured.

``python _events_driver.py MODE N [RATE]``; MODE is ``inline``, ``redis-streams``, ``raw`` (plain
XADD/XREADGROUP of the same JSON, a reader process of its own) or ``overhead`` (the cost
``publish()`` adds to a transaction). Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

WORK = Path(os.environ["BENCH_EVENTS_DIR"])
PER_TRANSACTION = 10
PUBLISHERS = 2


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def read_seen(path: Path) -> list[tuple[float, float]]:
    """``(published_at, handled_at)`` of every event the sink saw."""
    if not path.exists():
        return []
    pairs = []
    for line in path.read_text().splitlines():
        published, handled = line.split()
        pairs.append((float(published), float(handled)))
    return pairs


def wait_count(path: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: fewer than {count} events handled in {timeout} s")
        time.sleep(0.02)


def summary(pairs: list[tuple[float, float]], start: float) -> dict[str, float]:
    start = max(start, min(p for p, _ in pairs))  # from the first publish that happened
    latencies = [(handled - published) * 1000 for published, handled in pairs]
    end = max(handled for _, handled in pairs)
    published = [p for p, _ in pairs]
    handled = [h for _, h in pairs]
    return {
        "events": len(pairs),
        "rate": len(pairs) / (end - start),
        "published_rate": len(pairs) / (max(published) - min(published)),
        "handle_span_rate": len(pairs) / (max(handled) - min(handled)),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
    }


def publish_paced(n: int, rate: float, begin: float) -> None:
    """Publish ``n`` events, ``PER_TRANSACTION`` per transaction, at ``rate`` events/s from
    ``begin`` (a ``time.time()``); behind schedule, as fast as it can."""
    from django.db import transaction

    from trellis import events

    for first in range(0, n, PER_TRANSACTION):
        delay = begin + first / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        with transaction.atomic():
            for i in range(first, min(n, first + PER_TRANSACTION)):
                events.publish(
                    topic="bench.tick", key=f"k{i % 64}", payload={"t": time.time(), "i": i}
                )


def publishers(n: int, rate: float) -> float:
    """Run ``PUBLISHERS`` publisher processes sharing ``n`` events and ``rate``; their start."""
    begin = time.time() + 3.0  # after every publisher has set Django up
    shares = [n // PUBLISHERS + (1 if i < n % PUBLISHERS else 0) for i in range(PUBLISHERS)]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "publish", str(share), str(rate / PUBLISHERS), str(begin)]
        )
        for share in shares
    ]
    for proc in procs:
        if proc.wait(timeout=300) != 0:
            raise SystemExit("a publisher failed")
    return begin


def outbox_mode(mode: str, n: int, rate: float) -> dict[str, float]:
    import django

    django.setup()
    seen = WORK / f"seen-{os.environ['BENCH_RUN']}.log"
    consumer = None
    if mode == "drain":
        # A backlog first (no consumer running), then one consumer works it off.
        begin = publishers(n, 1e9)
        consumer = subprocess.Popen(
            [sys.executable, "-m", "django", "events_consume"],
            stdout=subprocess.DEVNULL,
            stderr=(WORK / "consumer.log").open("ab"),
        )
        try:
            wait_count(seen, n, 120)
        finally:
            consumer.terminate()
            consumer.wait(timeout=30)
        return summary(read_seen(seen), begin)
    if mode == "redis-streams":
        consumer = subprocess.Popen(
            [sys.executable, "-m", "django", "events_consume"],
            stdout=subprocess.DEVNULL,
            stderr=(WORK / "consumer.log").open("ab"),
        )
    try:
        publish_paced(1, 1.0, time.time())  # warm-up: the consumer is up and holds its leases
        wait_count(seen, 1, 60)
        seen.unlink()
        begin = publishers(n, rate)
        wait_count(seen, n, 120)
        return summary(read_seen(seen), begin)
    finally:
        if consumer is not None:
            consumer.terminate()
            consumer.wait(timeout=30)


RAW_READER = """
import os, sys, time, redis
r = redis.Redis.from_url(sys.argv[1], socket_timeout=5, decode_responses=True)
stream, out = sys.argv[2], open(sys.argv[3], "a")
r.xgroup_create(stream, "g", id="0", mkstream=True)
while True:
    answer = r.xreadgroup("g", "c", {stream: ">"}, count=200, block=50)
    for _, entries in answer or []:
        now = time.time()
        import json
        out.write("".join(f"{json.loads(f['payload'])['t']} {now}\\n" for _, f in entries))
        out.flush()
        r.xack(stream, "g", *[i for i, _ in entries])
"""


def raw_mode(n: int, rate: float) -> dict[str, float]:
    import redis

    url = os.environ["TRELLIS_EVENTS_REDIS_URL"]
    stream = f"{os.environ['TRELLIS_EVENTS_REDIS_PREFIX']}:raw:{uuid.uuid4().hex[:6]}"
    seen = WORK / "seen-raw.log"
    reader = subprocess.Popen([sys.executable, "-c", RAW_READER, url, stream, str(seen)])
    r = redis.Redis.from_url(url, socket_timeout=5)
    try:
        time.sleep(0.5)
        start = time.time()
        for first in range(0, n, PER_TRANSACTION):
            delay = start + first / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            pipe = r.pipeline(transaction=False)
            for i in range(first, min(n, first + PER_TRANSACTION)):
                payload = json.dumps({"t": time.time(), "i": i}, separators=(",", ":"))
                pipe.xadd(
                    stream,
                    {"id": i, "topic": "bench.tick", "key": f"k{i % 64}", "payload": payload},
                )
            pipe.execute()
        wait_count(seen, n, 120)
        return summary(read_seen(seen), start)
    finally:
        reader.terminate()
        reader.wait(timeout=10)
        r.delete(stream)


def overhead_mode(n: int) -> dict[str, float]:
    import django

    django.setup()
    from django.db import connection, transaction

    from trellis import events

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_domain (id serial primary key, data text)")

    def plain() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_domain (data) VALUES (%s)", ["order"])

    def with_event() -> None:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO bench_domain (data) VALUES (%s)", ["order"])
            events.publish(topic="bench.tick", key="k1", payload={"t": 0.0, "i": 1})

    samples: dict[str, list[float]] = {"plain": [], "publish": []}
    for round_ in range(n):
        order = [("plain", plain), ("publish", with_event)]
        for name, run in order if round_ % 2 else reversed(order):
            begin = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - begin) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "publish":
        import django

        django.setup()
        publish_paced(n, float(sys.argv[3]), float(sys.argv[4]))
        return
    if mode == "overhead":
        result = overhead_mode(n)
    elif mode == "raw":
        result = raw_mode(n, float(sys.argv[3]))
    else:
        result = outbox_mode(mode, n, float(sys.argv[3]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
