"""Benchmark area ``openrosa``: hq's OpenRosa submission receiver vs its JSON receiver, on the
same data, the same server, the same settings.

One form, ``household_photo``, added once with ``trellis.openrosa.xlsform_add`` (which defines
the trellis-forms form of the same name: both receivers validate against the same JSON
Schema; ``_openrosa_payload``), one device user, one API key. Two variants, each one request
per submission with ``Authorization: ApiKey <user>:<key>`` and the same ~100 KiB image as a
file part (``house.jpg``, named by the data's ``photo`` question):

* ``json`` — ``POST /a/<domain>/receiver/``, multipart: a ``submission`` part holding the JSON
  envelope ``{"form", "id", "data"}`` (~1.6 KiB) + the image.
* ``openrosa`` — ``POST /a/<domain>/submission`` with ``X-OpenRosa-Version: 1.0``, multipart:
  ``xml_submission_file`` holding the ~2 KiB instance XML (text/xml, as ODK Collect sends it)
  + the image. The data the XML carries is exactly the JSON variant's data (the seed checks
  it with the package's own XML-to-data converter), ``meta/instanceID`` included.
* ``json_xml`` — a control, no target: the ``json`` request with the same XML as a file part
  ``submission.xml`` before the image, so the JSON receiver stores the same two files, in the
  same order, as the OpenRosa receiver (which keeps the XML as attachment
  ``xml_submission_file``): what the second stored file costs, apart from the OpenRosa path.

Every submission has a unique id (``uuid:<run>-<variant>-<round>-<thread>-<counter>``: the
``wrk`` Lua script formats each body); every response must be ``201`` — anything else, and
every socket error or timeout, is counted as ``*.errors`` (target 0; the warm-ups' answers
count too); a traceback in the server's log is printed with the log's end.

Why ApiKey and not Digest under load: Digest's answer is an MD5 over a server nonce, a nonce
count and a client nonce, computed per request; wrk's Lua has no MD5 (and a nonce comes from
a 401 challenge first), so the load runs with the API key trellis-forms' middleware checks for
both routes — the same authentication cost on both sides. Digest's own cost is measured
separately (``openrosa.client.*``, a diagnostic, no target): a sequential Python client
(``requests`` on one keep-alive session, ``HEAD`` first as ODK Collect does;
``HTTPDigestAuth``: one 401 challenge, then a fresh answer with a counted nonce per request)
posting ``TRELLIS_BENCH_OPENROSA_CLIENT_POSTS`` (200) submissions per variant — ``json``
(ApiKey), ``openrosa`` with ApiKey and with Digest — in interleaved blocks of 25, plus a few
with Basic (a full password hash per request: Django's PBKDF2, so only 5 per block); median
and p99 latency per request.

Servers: hq (``hq.wsgi``, every installed plugin composed) under gunicorn exactly as area
``forms`` runs it (its harness, ``_forms_harness``: ``TRELLIS_BENCH_GUNICORN``, default
``--workers 2 --threads 4``, access log off, embedded profile with ``DJANGO_DEBUG=0``), one
server per engine and events provider, every variant against it, on a fresh database:

* ``hq_streams`` — ``TRELLIS_EVENTS_PROVIDER=redis-streams``, no consumer (the web process only
  writes the outbox; area ``forms``' like-for-like variant: the relay's work is elsewhere);
* ``hq`` — the shipped default events provider ``inline`` (after each commit the request runs
  the event processors too).

Engines: ``sqlite`` (SQLite WAL in ``TRELLIS_DATA_DIR``) and ``postgres`` (a throwaway
``trellis_bench_openrosa_*`` database on ``TRELLIS_TEST_DATABASE_URL``'s server). Blobs (the
image; for OpenRosa also the XML, kept as attachment ``xml_submission_file``) go to the
embedded profile's file-system store in ``TRELLIS_DATA_DIR``.

Load: ``wrk``, closed loop, ``TRELLIS_BENCH_OPENROSA_CONNECTIONS`` (16) keep-alive
connections, 2 threads, 10 s socket timeout. Per server: a 2 s warm-up per variant, then
``TRELLIS_BENCH_OPENROSA_ROUNDS`` (4) rounds of ``TRELLIS_BENCH_OPENROSA_SECONDS`` (6) s per
variant, interleaved (order reversed every other round). Reported like area ``forms``: the
best round's requests/s, the median over rounds of p50 / p99, and ``rate_ratio_median``, the
median over rounds of openrosa's rate / json's rate in the same round. Target (reported, not
asserted): openrosa >= 0.8x json requests/s. ``openrosa.machine.loadavg_1m.*``: the machine's
load around the run (2 shared cores).

Diagnostics (no targets): ``openrosa.inprocess.*`` — each variant's request path in one
process (``_openrosa_inprocess``: ``django.test.Client``, SQLite, one thread: no HTTP server,
no lock waits), best per-request time of 5 rounds x 60 posts over
``TRELLIS_BENCH_OPENROSA_INPROCESS_RUNS`` (2) fresh processes, the median time a write
transaction stays open (hq's SQLite runs ``BEGIN IMMEDIATE``: that is the database's single
write lock, held for that long by each submission, so it bounds the submissions per second
of all workers together) and the SQL statements of one post; ``openrosa.client.*`` above.

Knobs: ``TRELLIS_BENCH_OPENROSA_ENGINES`` (``sqlite,postgres``),
``TRELLIS_BENCH_OPENROSA_SERVERS`` (``hq_streams,hq``), ``TRELLIS_BENCH_OPENROSA_VARIANTS``
(``json,openrosa,json_xml``; ``json`` is required), ``TRELLIS_BENCH_OPENROSA_CLIENT_ON``
(``sqlite.hq_streams``: where the client diagnostic runs; empty: nowhere),
``TRELLIS_BENCH_OPENROSA_PROFILE=1`` (print a cProfile of the in-process posts) and the ones
above. Default run: ~9 minutes.
"""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench._common import REPO_ROOT, Record, record
from bench.areas import _forms_harness as h
from bench.areas import _forms_load as forms_load
from bench.areas import _openrosa_load as load
from bench.areas import _openrosa_payload as payload
from trellis.core.testing import throwaway_database

ENGINES = [
    e for e in os.environ.get("TRELLIS_BENCH_OPENROSA_ENGINES", "sqlite,postgres").split(",") if e
]
SERVERS = [
    s for s in os.environ.get("TRELLIS_BENCH_OPENROSA_SERVERS", "hq_streams,hq").split(",") if s
]
VARIANTS = tuple(
    v
    for v in os.environ.get("TRELLIS_BENCH_OPENROSA_VARIANTS", "json,openrosa,json_xml").split(",")
    if v
)
INPROCESS_RUNS = int(os.environ.get("TRELLIS_BENCH_OPENROSA_INPROCESS_RUNS", "2"))
ROUNDS = int(os.environ.get("TRELLIS_BENCH_OPENROSA_ROUNDS", "4"))
SECONDS = float(os.environ.get("TRELLIS_BENCH_OPENROSA_SECONDS", "6"))
CONNECTIONS = int(os.environ.get("TRELLIS_BENCH_OPENROSA_CONNECTIONS", "16"))
CLIENT_ON = os.environ.get("TRELLIS_BENCH_OPENROSA_CLIENT_ON", "sqlite.hq_streams")
PROFILE = os.environ.get("TRELLIS_BENCH_OPENROSA_PROFILE", "") not in ("", "0")
CLIENT_POSTS = int(os.environ.get("TRELLIS_BENCH_OPENROSA_CLIENT_POSTS", "200"))
WARMUP_SECONDS = 2
TARGET_RATIO = 0.8


def _start(
    stack: ExitStack, server: str, engine: str, work: Path, prefix: str
) -> tuple[str, dict[str, Any], Path]:
    """Prepare and start one hq server; its base URL, the seed's credentials, its log."""
    url = None
    if engine == "postgres":
        url = stack.enter_context(
            throwaway_database(h.POSTGRES_SERVER, f"trellis_bench_openrosa_{server}")
        )
    extra = {}
    if server == "hq_streams":
        extra = {
            "TRELLIS_EVENTS_PROVIDER": "redis-streams",
            "TRELLIS_EVENTS_REDIS_URL": h.REDIS_URL,
            "TRELLIS_EVENTS_REDIS_PREFIX": f"{prefix}:{engine}",
        }
    env = h.hq_env(work / f"{engine}-{server}", url, **extra)
    h.migrate_hq(env)
    seed = dict(h.last_json(h.run_checked([h.PYTHON, "-m", "bench.areas._openrosa_seed"], env)))
    log = work / f"{engine}-{server}.log"
    base = stack.enter_context(h.gunicorn("hq.wsgi:application", env, log))
    return base, seed, log


def _smoke(base: str, auth: str, picture: bytes, prefix: str, log: Path) -> None:
    """One submission of each variant; anything but a 201 stops the area with the answer and
    the end of the server's log (a traceback, for a 500)."""
    parts = urlsplit(base)
    for variant in VARIANTS:
        body = payload.body(variant, f"uuid:{prefix}-smoke-{variant}", "village-01", 3, picture)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            conn.request(
                "POST",
                payload.path(variant),
                body=body,
                headers={**payload.headers(variant), "Authorization": auth},
            )
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        if response.status != 201:
            raise RuntimeError(
                f"{variant}: POST {payload.path(variant)} answered {response.status}:\n"
                f"{text[:2000]}\n-- server log --\n{log.read_text()[-6000:]}"
            )


def _server(engine: str, server: str, prefix: str, picture: bytes, work: Path) -> list[Record]:
    rounds: dict[str, list[forms_load.LoadResult]] = {v: [] for v in VARIANTS}
    warm: dict[str, forms_load.LoadResult] = {}
    image_path = work / payload.IMAGE_NAME
    records: list[Record] = []
    with ExitStack() as stack:
        base, seed, log = _start(stack, server, engine, work, prefix)
        auth = str(seed["auth"])
        _smoke(base, auth, picture, f"{prefix}-{engine}-{server}", log)

        def hit(variant: str, label: str, seconds: float) -> forms_load.LoadResult:
            return load.wrk(
                base,
                variant,
                auth=auth,
                prefix=f"{prefix}-{engine}-{server}-{label}",
                image_path=image_path,
                seconds=seconds,
                connections=CONNECTIONS,
            )

        for variant in VARIANTS:
            warm[variant] = hit(variant, f"{variant}-warm", WARMUP_SECONDS)
        for i in range(ROUNDS):
            for variant in VARIANTS if i % 2 == 0 else reversed(VARIANTS):
                result = hit(variant, f"{variant}-r{i}", SECONDS)
                print(
                    f"openrosa {engine}.{server} round {i} {variant}: {result.rate:.1f} req/s, "
                    f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
                    f"errors {result.errors}",
                    flush=True,
                )
                rounds[variant].append(result)
        if f"{engine}.{server}" in CLIENT_ON.split(","):
            records += _client(base, seed, picture, f"{prefix}-{engine}-{server}", engine, server)
        bad = [line for line in log.read_text().splitlines() if "Traceback" in line]
        if bad:
            print(f"openrosa {engine}.{server}: {len(bad)} traceback(s) in the server log:")
            print(log.read_text()[-6000:])
    return _records(engine, server, rounds, warm) + records


def _records(
    engine: str,
    server: str,
    rounds: dict[str, list[forms_load.LoadResult]],
    warm: dict[str, forms_load.LoadResult],
) -> list[Record]:
    records: list[Record] = []
    base = rounds["json"]
    base_rate = max(r.rate for r in base)

    def mid(results: list[forms_load.LoadResult], attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in results))

    for variant in VARIANTS:
        results = rounds[variant]
        name = f"openrosa.receiver.{engine}.{server}.{variant}"
        rate = max(r.rate for r in results)
        paired = [r.rate / b.rate for r, b in zip(results, base, strict=True)]
        if variant == "json":
            records.append(record(f"{name}.rate", rate, "req/s"))
        elif variant == "openrosa":
            records.append(
                record(
                    f"{name}.rate",
                    rate,
                    "req/s",
                    baseline_name="json.rate",
                    baseline_value=base_rate,
                    target=f">= {TARGET_RATIO}x json",
                    check=lambda v, r: r is not None and r >= TARGET_RATIO,
                )
            )
            records.append(
                record(
                    f"{name}.rate_ratio_median",
                    float(statistics.median(paired)),
                    "x",
                    target=f">= {TARGET_RATIO}x (round by round)",
                    check=lambda v, _: v >= TARGET_RATIO,
                )
            )
        else:  # a control, no target
            records.append(
                record(
                    f"{name}.rate",
                    rate,
                    "req/s",
                    baseline_name="json.rate",
                    baseline_value=base_rate,
                )
            )
            records.append(
                record(f"{name}.rate_ratio_median", float(statistics.median(paired)), "x")
            )
        for attr in ("p50_ms", "p99_ms"):
            short = attr.split("_")[0]
            records.append(
                record(
                    f"{name}.{short}",
                    mid(results, attr),
                    "ms",
                    baseline_name=None if variant == "json" else f"json.{short}",
                    baseline_value=None if variant == "json" else mid(base, attr),
                )
            )
        counted = [warm[variant], *results]  # the warm-up's answers must be 201s too
        errors = sum(r.errors for r in counted)
        records.append(
            record(
                f"{name}.errors",
                errors,
                "non-201",
                target=f"0 of {sum(r.ok for r in counted) + errors}",
                check=lambda v, _: v == 0,
            )
        )
        codes = " ".join(r.detail.get("codes", "") for r in counted).split()
        if codes:
            print(f"{name}: non-201 statuses (first ones): {' '.join(codes[:20])}")
    return records


def _client(
    base: str, seed: dict[str, Any], picture: bytes, prefix: str, engine: str, server: str
) -> list[Record]:
    """The sequential ``requests`` client: json (ApiKey) and openrosa with ApiKey, Digest and
    Basic, interleaved on one server (see the module docstring)."""
    try:
        import requests  # noqa: F401
    except ImportError:
        print("openrosa: requests is not installed; the Digest diagnostic is skipped")
        return []
    credentials = {
        "apikey": str(seed["auth"]),
        "username": str(seed["username"]),
        "password": str(seed["password"]),
    }
    kinds = {
        "json.apikey": ("json", "apikey", 25),
        "openrosa.apikey": ("openrosa", "apikey", 25),
        "openrosa.digest": ("openrosa", "digest", 25),
        "openrosa.basic": ("openrosa", "basic", 5),
    }
    clients = {
        name: load.Client(
            base, variant, load.client_auth(kind, **credentials), f"{prefix}-{name}", picture
        )
        for name, (variant, kind, _) in kinds.items()
    }
    try:
        for client in clients.values():  # warm-up (Digest: its 401 challenge), not counted
            client.head()
            client.post(5)
            client.latencies_ms.clear()
        blocks = max(1, CLIENT_POSTS // 25)
        order = list(clients)
        for i in range(blocks):
            for name in order if i % 2 == 0 else reversed(order):
                clients[name].post(kinds[name][2])
    finally:
        for client in clients.values():
            client.close()
    records: list[Record] = []
    ref = load.median(clients["openrosa.apikey"].latencies_ms)
    for name, client in clients.items():
        full = f"openrosa.client.{engine}.{server}.{name}"
        value = load.median(client.latencies_ms)
        if name.startswith("openrosa.") and name != "openrosa.apikey":
            records.append(
                record(
                    f"{full}.p50",
                    value,
                    "ms",
                    baseline_name="openrosa.apikey.p50",
                    baseline_value=ref,
                )
            )
        else:
            records.append(record(f"{full}.p50", value, "ms"))
        records.append(record(f"{full}.p99", load.p99(client.latencies_ms), "ms"))
        records.append(
            record(
                f"{full}.errors",
                client.errors,
                "non-201",
                target=f"0 of {sum(client.statuses.values())}",
                check=lambda v, _: v == 0,
            )
        )
    return records


def _inprocess(prefix: str) -> list[Record]:
    """Both receivers' request paths in one process (``_openrosa_inprocess``: SQLite, one
    thread, the ``hq_streams`` settings), over ``INPROCESS_RUNS`` fresh processes: the best
    per-request time, the median time a write transaction is open (on SQLite: the write lock
    is held; best of the runs) and the SQL statements of one post.
    ``TRELLIS_BENCH_OPENROSA_PROFILE=1`` prints a cProfile of each variant too (the last
    run's)."""
    runs: list[dict[str, Any]] = []
    for i in range(INPROCESS_RUNS):
        with tempfile.TemporaryDirectory(prefix="trellis-bench-openrosa-inproc-") as name:
            env = h.hq_env(
                Path(name),
                None,
                TRELLIS_EVENTS_PROVIDER="redis-streams",
                TRELLIS_EVENTS_REDIS_URL=h.REDIS_URL,
                TRELLIS_EVENTS_REDIS_PREFIX=f"{prefix}:inproc-{i}",
                BENCH_VARIANTS=",".join(VARIANTS),
            )
            if PROFILE and i == INPROCESS_RUNS - 1:
                env["BENCH_PROFILE"] = "1"
            proc = subprocess.run(
                [h.PYTHON, "-m", "bench.areas._openrosa_inprocess"],
                env=env,
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"_openrosa_inprocess failed:\n{proc.stdout}\n{proc.stderr}")
            if env.get("BENCH_PROFILE"):
                print(proc.stderr)
            runs.append(h.last_json(proc.stdout))
    records: list[Record] = []
    base_ms = min(r["json"]["best_ms"] for r in runs)
    base_sql = runs[0]["json"]["queries"]
    base_tx = min(r["json"]["transaction_ms"] for r in runs)
    for variant in VARIANTS:
        best = min(r[variant]["best_ms"] for r in runs)
        first = runs[0][variant]
        print(
            f"openrosa.inprocess.{variant} SQL of one post ('*': in a transaction): "
            + " ".join(first["statements"])
            + f"; transactions per post: {first['transactions_per_post']:.2f}"
        )
        name = f"openrosa.inprocess.sqlite.{variant}"
        other = variant != "json"
        records.append(
            record(
                f"{name}.per_request",
                best,
                "ms",
                baseline_name="json.per_request" if other else None,
                baseline_value=base_ms if other else None,
            )
        )
        records.append(
            record(
                f"{name}.write_transaction",
                min(r[variant]["transaction_ms"] for r in runs),
                "ms",
                baseline_name="json.write_transaction" if other else None,
                baseline_value=base_tx if other else None,
            )
        )
        records.append(
            record(
                f"{name}.sql_statements",
                first["queries"],
                "count",
                baseline_name="json.sql_statements" if other else None,
                baseline_value=base_sql if other else None,
            )
        )
    return records


def _sizes(picture: bytes) -> list[Record]:
    sid = "uuid:trellis-bench-openrosa-0123abcd-sqlite-hq_streams-openrosa-r0-1-1000"
    return [
        record("openrosa.payload.xml", len(payload.xml(sid, "village-01", 3)), "bytes"),
        record("openrosa.payload.json", len(payload.envelope(sid, "village-01", 3)), "bytes"),
        record("openrosa.payload.image", len(picture), "bytes"),
        record(
            "openrosa.payload.request_body.openrosa",
            len(payload.body("openrosa", sid, "village-01", 3, picture)),
            "bytes",
        ),
        record(
            "openrosa.payload.request_body.json",
            len(payload.body("json", sid, "village-01", 3, picture)),
            "bytes",
        ),
    ]


def run() -> list[Record]:
    if "json" not in VARIANTS:
        raise SystemExit("TRELLIS_BENCH_OPENROSA_VARIANTS must include json (the baseline)")
    if not forms_load.have_wrk():
        raise SystemExit("area openrosa needs wrk on PATH: apt-get install -y wrk")
    prefix = f"trellis-bench-openrosa-{uuid.uuid4().hex[:8]}"
    picture = payload.image()
    records: list[Record] = [h.loadavg_record("openrosa.machine.loadavg_1m.start")]
    records += _sizes(picture)
    try:
        if INPROCESS_RUNS:
            records += _inprocess(prefix)
        for engine in ENGINES:
            for server in SERVERS:
                with tempfile.TemporaryDirectory(
                    prefix=f"trellis-bench-openrosa-{engine}-{server}-"
                ) as name:
                    work = Path(name)
                    (work / payload.IMAGE_NAME).write_bytes(picture)
                    records += _server(engine, server, prefix, picture, work)
        records.append(h.loadavg_record("openrosa.machine.loadavg_1m.end"))
    finally:
        if "hq_streams" in SERVERS:
            h.clean_redis(h.REDIS_URL, prefix)
    return records
