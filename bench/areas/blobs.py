"""Benchmark area ``blobs``: the blob store facade against raw I/O, on SQLite and PostgreSQL.

**Filesystem provider, per database** (``blobs.filesystem.<db>.*``, ``<db>`` one of):

* ``sqlite`` — the embedded profile's database as ``trellis.core.django.database_from_env``
  builds it without ``DATABASE_URL`` (a file in a temporary directory, ``PRAGMA
  journal_mode=WAL; synchronous=NORMAL``, ``IMMEDIATE`` transactions). The run fails unless
  the benchmark's own connection reports ``journal_mode`` ``wal``.
* ``postgres`` — ``database_from_env`` with ``DATABASE_URL`` naming a database created for
  the run on the server ``BENCH_POSTGRES_URL`` names (default
  ``postgres://postgres@127.0.0.1:5432/postgres``) and dropped afterwards. The run fails if
  the server cannot be reached; ``BENCH_POSTGRES_URL=off`` skips these records.

Each database gets a fresh subprocess, migrated, with content under a fresh
``TRELLIS_BLOBS_ROOT``; every facade figure there is compared with raw I/O of the same bytes in
the same process, on the same filesystem, the variants interleaved (``time_calls``, best of 9
repeats of at least 60 ms each):

* ``get_1MiB`` — ``open_blob(key)`` (its metadata query) read to the end in 1 MiB reads, the
  facade verifying length and sha256, against opening the raw file, reading it to the end in
  1 MiB reads and sha256-hashing them. Target <= 1.15x. ``get_1MiB_vs_raw``: the same against
  the unhashed raw read (no target).
* ``put_1MiB`` — ``trellis.blobs.put(bytes)`` (content, fsyncs, metadata row) against writing
  a new raw file, ``flush`` + ``fsync`` of it, plus a sha256 of the bytes. Target <= 1.5x.
  Measured in a store in use: the fresh keys are drawn before timing among those that fall
  into 1,024 fan-out directories made beforehand, as the raw files go into one existing
  directory. ``put_1MiB_new_store`` (no target) is the same put into a fresh store, where
  almost every put also makes (and fsyncs) its two fan-out directories.
  ``put_1MiB_vs_raw``: against the write + fsync without the hash; ``put_1MiB_vs_dir_fsync``:
  against the hashed write + fsync followed by an fsync of the file's directory, the
  durability floor of a new file's name (no target, for information).
* ``put_rate_1KiB`` — 1 KiB blobs stored per second through ``put`` (in a store in use, as
  above; ``put_rate_1KiB_new_store`` in a fresh one), against raw 1 KiB files written +
  fsynced + sha256-hashed per second. Target: at least 0.5x the raw rate.
  ``put_rate_1KiB_vs_raw`` and ``put_rate_1KiB_vs_dir_fsync`` as for 1 MiB (no target).

**S3 provider** (``blobs.s3.*``, SQLite only): ``put``/``get`` of 1 MiB and the 1 KiB put
rate against boto3 ``put_object`` / ``get_object`` on the same moto server (in server mode,
``trellis.blobs.s3testing.s3_server``, its own process), raw and with a sha256; no targets.
``blobs.s3_vs_filesystem.*`` compares its figures with ``blobs.filesystem.sqlite.*``.

**256 MiB** (``blobs.<provider>.*_256MiB*``, SQLite only) — one blob put from a
generator-backed reader (the payload is never held in memory) and read back in 1 MiB chunks, in
a fresh process: peak RSS growth over the run (``getrusage`` ``ru_maxrss`` after minus before;
target < 64 MiB) and throughput against streaming the same bytes to and from a raw file (write
+ fsync). These run once per provider: they take seconds, and the figure that matters is memory.

Everything runs in subprocesses (``bench/_common.run_python``) configured with Django settings
of their own (``trellis.blobs`` installed), so the runner's process stays free of Django.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, Record, clean_env, record, run_python
from trellis.blobs.s3testing import S3Server, s3_server
from trellis.core.testing import throwaway_database

MiB = 1024 * 1024
BIG = 256 * MiB
GET_TARGET = 1.15
PUT_TARGET = 1.5
RATE_TARGET = 0.5
RSS_TARGET_MIB = 64.0
POSTGRES_URL_VARIABLE = "BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"

SETUP = """
import hashlib, json, os, resource, time
from pathlib import Path

import django
from django.conf import settings
from trellis.core.django import database_from_env

WORK = Path(os.environ["BENCH_WORK"])
DB = os.environ["BENCH_DB"]
URL = os.environ.get("BENCH_DATABASE_URL", "")
settings.configure(
    INSTALLED_APPS=["trellis.blobs"],
    DATABASES={
        "default": database_from_env(
            data_dir=WORK / "data", environ={"DATABASE_URL": URL} if URL else {}
        )
    },
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)

DATABASE = {"vendor": connection.vendor}
if connection.vendor == "sqlite":
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        DATABASE["journal_mode"] = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        DATABASE["synchronous"] = cursor.fetchone()[0]

from trellis import blobs
from trellis.core import get_host

PROVIDER = get_host().selected_provider("blobs")
RAW = WORK / "raw"
RAW.mkdir(exist_ok=True)
MiB = 1024 * 1024
counter = iter(range(10**9))

if PROVIDER == "s3":
    import boto3.s3.transfer  # imported by the provider's first multipart upload
    from trellis.blobs.s3 import _client, load_settings
    S3 = load_settings()
    CLIENT = _client(S3)


def put(content):
    return blobs.put(content, domain="bench", parent_id="p", type_code=1).key


STEADY_BUCKETS = 1024  # a store in use: fresh keys land in fan-out directories that exist


def _steady_keys(count):
    # Fresh random keys, kept when they fall into one of STEADY_BUCKETS fan-out directories,
    # which are made once here: drawn before timing, so the timed puts pay no extra work.
    from trellis.blobs import filesystem
    from trellis.blobs._keys import new_key

    buckets, keys = set(), []
    while len(keys) < count:
        key = new_key()
        bucket = hashlib.sha256(key.encode("ascii")).hexdigest()[:4]
        if bucket in buckets or len(buckets) < STEADY_BUCKETS:
            if bucket not in buckets:
                buckets.add(bucket)
                filesystem.path_for(key).parent.mkdir(parents=True, exist_ok=True)
            keys.append(key)
    return iter(keys)


STEADY = {"on": False, "keys": None}


def put_steady(content):
    # blobs.put with its default fresh key drawn from _steady_keys: the put takes the same path
    # as put(), but finds its fan-out directories made, as in a store that has been in use.
    from trellis.blobs import services

    if STEADY["keys"] is None:
        real = services.new_key
        STEADY["keys"] = _steady_keys(int(os.environ.get("BENCH_STEADY_KEYS", "4000")))
        # Past the keys drawn ahead (more puts than calibrated for), fresh keys as usual.
        services.new_key = lambda: (next(STEADY["keys"], None) if STEADY["on"] else None) or real()
    STEADY["on"] = True
    try:
        return put(content)
    finally:
        STEADY["on"] = False


def get(key):
    with blobs.open_blob(key) as reader:
        while reader.read(MiB):
            pass


def raw_put(content, hashed=False, dir_fsync=False):
    if hashed:
        hashlib.sha256(content).hexdigest()
    name = f"raw-{next(counter)}"
    if PROVIDER == "s3":
        CLIENT.put_object(Bucket=S3.bucket, Key="raw/" + name, Body=content)
        return name
    with open(RAW / name, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    if dir_fsync:
        fd = os.open(RAW, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return name


def raw_get(name, hashed=False):
    if PROVIDER == "s3":
        source = CLIENT.get_object(Bucket=S3.bucket, Key="raw/" + name)["Body"]
    else:
        source = open(RAW / name, "rb")
    with source:
        if not hashed:
            while source.read(MiB):
                pass
        else:
            digest = hashlib.sha256()
            while chunk := source.read(MiB):
                digest.update(chunk)
            digest.hexdigest()
"""

TIMING = (
    SETUP
    + """
from bench._common import time_calls

KiB_DATA, MiB_DATA = os.urandom(1024), os.urandom(MiB)
api_key, raw_name = put(MiB_DATA), raw_put(MiB_DATA)
if PROVIDER == "filesystem":
    put_steady(KiB_DATA)  # draw the steady keys before timing
statements = {
    "api_put_1m": lambda: put(MiB_DATA),
    "raw_put_1m": lambda: raw_put(MiB_DATA),
    "raw_put_1m_sha": lambda: raw_put(MiB_DATA, hashed=True),
    "api_get_1m": lambda: get(api_key),
    "raw_get_1m": lambda: raw_get(raw_name),
    "raw_get_1m_sha": lambda: raw_get(raw_name, hashed=True),
    "api_put_1k": lambda: put(KiB_DATA),
    "raw_put_1k": lambda: raw_put(KiB_DATA),
}
if PROVIDER == "filesystem":
    statements["api_put_1m_steady"] = lambda: put_steady(MiB_DATA)
    statements["api_put_1k_steady"] = lambda: put_steady(KiB_DATA)
    statements["raw_put_1k_sha"] = lambda: raw_put(KiB_DATA, hashed=True)
    statements["raw_put_1m_sha_dir"] = lambda: raw_put(MiB_DATA, hashed=True, dir_fsync=True)
    statements["raw_put_1k_sha_dir"] = lambda: raw_put(KiB_DATA, hashed=True, dir_fsync=True)
timings = time_calls(statements, repeat=int(os.environ["BENCH_REPEAT"]), min_time_ms=60)
print(json.dumps({"database": DATABASE, **{name: t.best_us for name, t in timings.items()}}))
"""
)

MEMORY = (
    SETUP
    + """
class Pattern:
    # BIG bytes of a repeating pattern, generated read by read: the payload is never in memory.
    def __init__(self, size):
        self.left = size
        self.block = os.urandom(MiB)

    def read(self, size=-1):
        size = min(self.left, MiB if size is None or size < 0 else size)
        self.left -= size
        if size <= len(self.block):
            return self.block[:size]
        return (self.block * (size // len(self.block) + 1))[:size]


BIG = int(os.environ["BENCH_BIG"])
put(Pattern(2 * MiB)); get(put(b"warm"))  # warm every code path before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
key = put(Pattern(BIG))
t1 = time.perf_counter()
get(key)
t2 = time.perf_counter()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
raw = RAW / "big"
t3 = time.perf_counter()
source = Pattern(BIG)
with open(raw, "wb") as out:
    while chunk := source.read(MiB):
        out.write(chunk)
    out.flush()
    os.fsync(out.fileno())
t4 = time.perf_counter()
with open(raw, "rb") as back:
    while back.read(MiB):
        pass
t5 = time.perf_counter()
print(json.dumps({
    "database": DATABASE,
    "rss_growth_mib": (after - before) / 1024,
    "rss_before_mib": before / 1024,
    "api_put_s": t1 - t0, "api_get_s": t2 - t1, "raw_put_s": t4 - t3, "raw_get_s": t5 - t4,
}))
"""
)


# -- running -----------------------------------------------------------------------------------


def _run(
    code: str,
    provider: str,
    tmp: Path,
    *,
    db: str = "sqlite",
    database_url: str = "",
    extra: dict[str, str] | None = None,
    repeat: int = 9,
) -> dict[str, Any]:
    """Run a snippet in a fresh subprocess and work directory; check the database it used."""
    work = Path(tempfile.mkdtemp(prefix=f"{provider}-{db}-", dir=tmp))
    env = clean_env(
        TRELLIS_BLOBS_PROVIDER=provider,
        TRELLIS_BLOBS_ROOT=str(work / "blobs"),
        BENCH_WORK=str(work),
        BENCH_DB=db,
        BENCH_DATABASE_URL=database_url,
        BENCH_REPEAT=str(repeat),
        BENCH_BIG=str(BIG),
        PYTHONPATH=str(REPO_ROOT),
        **(extra or {}),
    )
    output = run_python(code, env=env, cwd=REPO_ROOT, timeout=600).output
    _check_database(db, output.get("database", {}))
    return output


def _check_database(db: str, seen: dict[str, Any]) -> None:
    vendor = "postgresql" if db == "postgres" else db
    if seen.get("vendor") != vendor:
        raise RuntimeError(f"the {db} benchmark ran on {seen.get('vendor')!r}, not {vendor!r}")
    if db == "sqlite" and str(seen.get("journal_mode", "")).lower() != "wal":
        raise RuntimeError(
            "the embedded SQLite database is not in WAL mode (journal_mode "
            f"{seen.get('journal_mode')!r}); database_from_env should configure it"
        )


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """Create a throwaway database on ``server``, yield its URL, drop it afterwards."""
    import psycopg

    try:
        psycopg.connect(server, connect_timeout=5).close()
    except psycopg.Error as exc:
        raise RuntimeError(
            f"PostgreSQL at {server} is not reachable ({exc}); start it, point "
            f"{POSTGRES_URL_VARIABLE} at another server, or set {POSTGRES_URL_VARIABLE}=off "
            "to skip the PostgreSQL records"
        ) from exc
    with throwaway_database(server, "trellis_bench_blobs") as url:
        yield url


# -- records -----------------------------------------------------------------------------------


def _at_most(
    name: str, value: float, baseline: str, base: float, limit: float | None, unit: str = "ms"
) -> Record:
    """A time compared with a baseline time; with ``limit``, targeted at ``<= limit`` x it."""
    if limit is None:
        return record(name, value, unit, baseline_name=baseline, baseline_value=base)
    return record(
        name,
        value,
        unit,
        baseline_name=baseline,
        baseline_value=base,
        target=f"<= {limit:g}x baseline",
        check=lambda _v, ratio: ratio is not None and ratio <= limit,
    )


def _rate(
    name: str, per_call_us: float, baseline: str, base_us: float, limit: float | None
) -> Record:
    """Calls per second compared with a baseline rate; with ``limit``, ``>= limit`` x it."""
    rate, base = 1e6 / per_call_us, 1e6 / base_us
    if limit is None:
        return record(name, rate, "blobs/s", baseline_name=baseline, baseline_value=base)
    return record(
        name,
        rate,
        "blobs/s",
        baseline_name=baseline,
        baseline_value=base,
        target=f">= {limit:g}x baseline",
        check=lambda _v, ratio: ratio is not None and ratio >= limit,
    )


def filesystem_records(db: str, tmp: Path, database_url: str = "") -> list[Record]:
    """The filesystem provider's 1 MiB / 1 KiB records on database ``db``."""
    t = _run(TIMING, "filesystem", tmp, db=db, database_url=database_url)
    prefix = f"blobs.filesystem.{db}"
    write = "raw file write + fsync"
    read = "raw file read"
    ms = {name: value / 1000 for name, value in t.items() if name != "database"}
    return [
        _at_most(
            f"{prefix}.get_1MiB",
            ms["api_get_1m"],
            f"{read} + sha256, 1 MiB",
            ms["raw_get_1m_sha"],
            GET_TARGET,
        ),
        _at_most(
            f"{prefix}.put_1MiB",
            ms["api_put_1m_steady"],
            f"{write} + sha256, 1 MiB",
            ms["raw_put_1m_sha"],
            PUT_TARGET,
        ),
        _rate(
            f"{prefix}.put_rate_1KiB",
            t["api_put_1k_steady"],
            f"{write} + sha256, 1 KiB, per second",
            t["raw_put_1k_sha"],
            RATE_TARGET,
        ),
        _at_most(
            f"{prefix}.put_1MiB_new_store",
            ms["api_put_1m"],
            f"{write} + sha256, 1 MiB",
            ms["raw_put_1m_sha"],
            None,
        ),
        _rate(
            f"{prefix}.put_rate_1KiB_new_store",
            t["api_put_1k"],
            f"{write} + sha256, 1 KiB, per second",
            t["raw_put_1k_sha"],
            None,
        ),
        _at_most(
            f"{prefix}.get_1MiB_vs_raw", ms["api_get_1m"], f"{read}, 1 MiB", ms["raw_get_1m"], None
        ),
        _at_most(
            f"{prefix}.put_1MiB_vs_raw", ms["api_put_1m"], f"{write}, 1 MiB", ms["raw_put_1m"], None
        ),
        _at_most(
            f"{prefix}.put_1MiB_vs_dir_fsync",
            ms["api_put_1m"],
            f"{write} + sha256 + dir fsync, 1 MiB",
            ms["raw_put_1m_sha_dir"],
            None,
        ),
        _rate(
            f"{prefix}.put_rate_1KiB_vs_raw",
            t["api_put_1k"],
            f"{write}, 1 KiB, per second",
            t["raw_put_1k"],
            None,
        ),
        _rate(
            f"{prefix}.put_rate_1KiB_vs_dir_fsync",
            t["api_put_1k"],
            f"{write} + sha256 + dir fsync, 1 KiB, per second",
            t["raw_put_1k_sha_dir"],
            None,
        ),
    ]


def s3_records(tmp: Path, s3: dict[str, str]) -> list[Record]:
    """The S3 provider against raw boto3 calls on the same moto server (SQLite metadata)."""
    t = _run(TIMING, "s3", tmp, extra=s3)
    ms = {name: value / 1000 for name, value in t.items() if name != "database"}
    put, get = "raw boto3 put_object", "raw boto3 get_object"
    return [
        _at_most("blobs.s3.put_1MiB", ms["api_put_1m"], f"{put}, 1 MiB", ms["raw_put_1m"], None),
        _at_most("blobs.s3.get_1MiB", ms["api_get_1m"], f"{get}, 1 MiB", ms["raw_get_1m"], None),
        _at_most(
            "blobs.s3.put_1MiB_vs_hashed",
            ms["api_put_1m"],
            f"{put} + sha256, 1 MiB",
            ms["raw_put_1m_sha"],
            None,
        ),
        _at_most(
            "blobs.s3.get_1MiB_vs_hashed",
            ms["api_get_1m"],
            f"{get} + sha256, 1 MiB",
            ms["raw_get_1m_sha"],
            None,
        ),
        _rate(
            "blobs.s3.put_rate_1KiB",
            t["api_put_1k"],
            f"{put}, 1 KiB, per second",
            t["raw_put_1k"],
            None,
        ),
    ]


def memory_records(provider: str, tmp: Path, s3: dict[str, str]) -> list[Record]:
    """The 256 MiB put and get of ``provider`` (SQLite metadata): peak RSS and throughput."""
    m = _run(MEMORY, provider, tmp, extra=s3)
    prefix = f"blobs.{provider}"
    big_mib = BIG / MiB
    raw = "raw file streamed"
    return [
        record(
            f"{prefix}.rss_growth_256MiB",
            m["rss_growth_mib"],
            "MiB",
            baseline_name="peak RSS before (process after warm-up)",
            baseline_value=m["rss_before_mib"],
            target=f"< {RSS_TARGET_MIB:g} MiB",
            check=lambda v, _r: v < RSS_TARGET_MIB,
        ),
        record(
            f"{prefix}.put_256MiB_throughput",
            big_mib / m["api_put_s"],
            "MiB/s",
            baseline_name=f"{raw} write + fsync",
            baseline_value=big_mib / m["raw_put_s"],
        ),
        record(
            f"{prefix}.get_256MiB_throughput",
            big_mib / m["api_get_s"],
            "MiB/s",
            baseline_name=f"{raw} read",
            baseline_value=big_mib / m["raw_get_s"],
        ),
    ]


def comparison_records(records: list[Record]) -> list[Record]:
    """The S3 provider's figures against the filesystem provider's on SQLite, same run."""
    by_name = {r.name: r for r in records}
    out = []
    for metric, unit in (("put_1MiB", "ms"), ("get_1MiB", "ms"), ("put_rate_1KiB", "blobs/s")):
        s3, fs = by_name[f"blobs.s3.{metric}"], by_name[f"blobs.filesystem.sqlite.{metric}"]
        out.append(
            record(
                f"blobs.s3_vs_filesystem.{metric}",
                s3.value,
                unit,
                baseline_name=f"blobs.filesystem.sqlite.{metric}",
                baseline_value=fs.value,
            )
        )
    return out


def run() -> list[Record]:
    server = os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL).strip()
    with tempfile.TemporaryDirectory(prefix="trellis-bench-blobs-") as name:
        tmp = Path(name)
        records = filesystem_records("sqlite", tmp)
        if server.lower() != "off":
            with postgres_database(server) as url:
                records += filesystem_records("postgres", tmp, url)
        records += memory_records("filesystem", tmp, {})
        with s3_server() as s3:
            env = _s3_env(s3)
            records += s3_records(tmp, env)
            records += memory_records("s3", tmp, env)
    return records + comparison_records(records)


def _s3_env(server: S3Server) -> dict[str, str]:
    return server.env(server.create_bucket(), prefix="bench")
