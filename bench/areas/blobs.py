"""Benchmark area ``blobs``: the blob store facade against raw I/O, filesystem and S3 side by side.

* **1 MiB put / get** — ``trellis.blobs.put(bytes)`` (content *and* its metadata row, SQLite
  WAL as in the embedded profile) and ``open_blob(key)`` read to the end (sha256-verified), per
  call, against raw I/O of the same bytes: for the filesystem provider, writing a new file
  (``fsync`` included, as the provider does) and reading it back; for the S3 provider, boto3
  ``put_object`` / ``get_object`` on the same moto server. Target: the filesystem figures
  within 1.5x raw file I/O.
* **1 KiB put rate** — blobs stored per second through the facade, against raw files (or raw
  ``put_object`` calls) per second.
* **256 MiB** — one blob put from a generator-backed reader (the payload is never held in
  memory) and read back in 1 MiB chunks, in a fresh process: peak RSS growth over the run
  (``getrusage`` ``ru_maxrss`` after minus before; target < 64 MiB) and throughput against
  streaming the same bytes to and from a raw file.

Everything runs in subprocesses (``bench/_common.run_python``) configured with Django settings
of their own (SQLite in a temporary directory, ``trellis.blobs`` installed) and migrated, so the
runner's process stays free of Django. The S3 server is moto in server mode
(``trellis.blobs.s3testing.s3_server``), its own process; its memory is not counted. Timings are
best-of-repeats with the variants interleaved (``time_calls``); the 256 MiB runs happen once
per provider (they take seconds each, and the figure that matters is memory).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, Record, clean_env, record, run_python
from trellis.blobs.s3testing import S3Server, s3_server

MiB = 1024 * 1024
RATIO_TARGET = 1.5
RSS_TARGET_MIB = 64.0
BIG = 256 * MiB

SETUP = """
import hashlib, json, os, resource, time
from pathlib import Path

import django
from django.conf import settings
from trellis.core.django import database_from_env

WORK = Path(os.environ["BENCH_WORK"])
settings.configure(
    INSTALLED_APPS=["trellis.blobs"],
    DATABASES={"default": database_from_env(data_dir=WORK / "data", environ={})},
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)

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


def get(key):
    with blobs.open_blob(key) as reader:
        while reader.read(MiB):
            pass


def raw_put(content):
    name = f"raw-{next(counter)}"
    if PROVIDER == "s3":
        CLIENT.put_object(Bucket=S3.bucket, Key="raw/" + name, Body=content)
    else:
        with open(RAW / name, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
    return name


def raw_get(name, digest=None):
    if PROVIDER == "s3":
        source = CLIENT.get_object(Bucket=S3.bucket, Key="raw/" + name)["Body"]
    else:
        source = open(RAW / name, "rb")
    with source:
        if digest is None:
            while source.read(MiB):
                pass
        else:
            while chunk := source.read(MiB):
                digest.update(chunk)


def raw_put_hashed(content):
    hashlib.sha256(content).hexdigest()
    return raw_put(content)
"""

TIMING = (
    SETUP
    + """
from bench._common import time_calls

KiB_DATA, MiB_DATA = os.urandom(1024), os.urandom(MiB)
api_key, raw_name = put(MiB_DATA), raw_put(MiB_DATA)
timings = time_calls(
    {
        "api_put_1m": lambda: put(MiB_DATA),
        "raw_put_1m": lambda: raw_put(MiB_DATA),
        "api_get_1m": lambda: get(api_key),
        "raw_get_1m": lambda: raw_get(raw_name),
        "raw_put_1m_sha": lambda: raw_put_hashed(MiB_DATA),
        "raw_get_1m_sha": lambda: raw_get(raw_name, hashlib.sha256()),
        "api_put_1k": lambda: put(KiB_DATA),
        "raw_put_1k": lambda: raw_put(KiB_DATA),
    },
    repeat=int(os.environ["BENCH_REPEAT"]),
    min_time_ms=60,
)
print(json.dumps({name: t.best_us for name, t in timings.items()}))
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
    "rss_growth_mib": (after - before) / 1024,
    "rss_before_mib": before / 1024,
    "api_put_s": t1 - t0, "api_get_s": t2 - t1, "raw_put_s": t4 - t3, "raw_get_s": t5 - t4,
}))
"""
)


def _env(provider: str, work: Path, s3: dict[str, str], *, repeat: int = 7) -> dict[str, str]:
    return clean_env(
        TRELLIS_BLOBS_PROVIDER=provider,
        TRELLIS_BLOBS_ROOT=str(work / "blobs"),
        BENCH_WORK=str(work),
        BENCH_REPEAT=str(repeat),
        BENCH_BIG=str(BIG),
        PYTHONPATH=str(REPO_ROOT),
        **s3,
    )


def _run(code: str, provider: str, tmp: Path, s3: dict[str, str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"{provider}-", dir=tmp))
    return run_python(code, env=_env(provider, work, s3), cwd=REPO_ROOT, timeout=300).output


def _ratio(
    name: str, value: float, unit: str, baseline: str, base: float, *, target: bool
) -> Record:
    if not target:
        return record(name, value, unit, baseline_name=baseline, baseline_value=base)
    return record(
        name,
        value,
        unit,
        baseline_name=baseline,
        baseline_value=base,
        target=f"<= {RATIO_TARGET:g}x baseline",
        check=lambda _v, ratio: ratio is not None and ratio <= RATIO_TARGET,
    )


def provider_records(provider: str, tmp: Path, s3: dict[str, str]) -> list[Record]:
    timing = _run(TIMING, provider, tmp, s3)
    memory = _run(MEMORY, provider, tmp, s3)
    raw = "raw file write + fsync" if provider == "filesystem" else "raw boto3 put_object"
    raw_get = "raw file read" if provider == "filesystem" else "raw boto3 get_object"
    targeted = provider == "filesystem"
    prefix = f"blobs.{provider}"
    big_mib = BIG / MiB
    rate = 1e6 / timing["api_put_1k"]
    raw_rate = 1e6 / timing["raw_put_1k"]
    return [
        _ratio(
            f"{prefix}.put_1MiB",
            timing["api_put_1m"] / 1000,
            "ms",
            f"{raw}, 1 MiB",
            timing["raw_put_1m"] / 1000,
            target=targeted,
        ),
        _ratio(
            f"{prefix}.get_1MiB",
            timing["api_get_1m"] / 1000,
            "ms",
            f"{raw_get}, 1 MiB",
            timing["raw_get_1m"] / 1000,
            target=targeted,
        ),
        _ratio(
            f"{prefix}.put_1MiB_vs_hashed",
            timing["api_put_1m"] / 1000,
            "ms",
            f"{raw} + sha256, 1 MiB",
            timing["raw_put_1m_sha"] / 1000,
            target=False,
        ),
        _ratio(
            f"{prefix}.get_1MiB_vs_hashed",
            timing["api_get_1m"] / 1000,
            "ms",
            f"{raw_get} + sha256, 1 MiB",
            timing["raw_get_1m_sha"] / 1000,
            target=False,
        ),
        record(
            f"{prefix}.put_rate_1KiB",
            rate,
            "blobs/s",
            baseline_name=f"{raw}, 1 KiB, per second",
            baseline_value=raw_rate,
        ),
        record(
            f"{prefix}.rss_growth_256MiB",
            memory["rss_growth_mib"],
            "MiB",
            baseline_name="peak RSS before (process after warm-up)",
            baseline_value=memory["rss_before_mib"],
            target=f"< {RSS_TARGET_MIB:g} MiB",
            check=lambda v, _r: v < RSS_TARGET_MIB,
        ),
        _ratio(
            f"{prefix}.put_256MiB_throughput",
            big_mib / memory["api_put_s"],
            "MiB/s",
            "raw file streamed write + fsync",
            big_mib / memory["raw_put_s"],
            target=False,
        ),
        _ratio(
            f"{prefix}.get_256MiB_throughput",
            big_mib / memory["api_get_s"],
            "MiB/s",
            "raw file streamed read",
            big_mib / memory["raw_get_s"],
            target=False,
        ),
    ]


def comparison_records(records: list[Record]) -> list[Record]:
    """The S3 provider's figures against the filesystem provider's, same run."""
    by_name = {r.name: r for r in records}
    out = []
    for metric, unit in (("put_1MiB", "ms"), ("get_1MiB", "ms"), ("put_rate_1KiB", "blobs/s")):
        s3, fs = by_name[f"blobs.s3.{metric}"], by_name[f"blobs.filesystem.{metric}"]
        out.append(
            record(
                f"blobs.s3_vs_filesystem.{metric}",
                s3.value,
                unit,
                baseline_name=f"blobs.filesystem.{metric}",
                baseline_value=fs.value,
            )
        )
    return out


def run() -> list[Record]:
    with tempfile.TemporaryDirectory(prefix="trellis-bench-blobs-") as name, s3_server() as server:
        tmp = Path(name)
        records = provider_records("filesystem", tmp, {})
        records += provider_records("s3", tmp, _s3_env(server))
    return records + comparison_records(records)


def _s3_env(server: S3Server) -> dict[str, str]:
    return server.env(server.create_bucket(), prefix="bench")
