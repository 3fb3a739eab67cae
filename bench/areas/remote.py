"""Benchmark area ``remote``: the blobs provider hooks in-process vs through trellis-remote.

Side by side in one run, on one machine: the **in-process filesystem provider** (what a caller
gives up by moving blobs to a service — the natural baseline) against the **remote provider**
calling ``services/blobs`` under gunicorn on loopback, started as
``ServiceProcess("blobs_service", ..., workers=2, threads=4)`` (gunicorn's threaded
workers, which keep the client's pooled connections alive between calls, as the docs
recommend; the service's default ``embedded`` profile: SQLite, DEBUG on, nonces in a
database cache table).
Both run the filesystem provider over the same temporary directory.

The client side runs in fresh subprocesses (``_remote_client.py``): two hosts,
``isolated_host(discover=True, providers={"blobs": "remote" | "filesystem"})``, measured at
the provider-hook level — ``host.call("blobs_write", key=..., stream=...)`` from a
non-seekable stream (as the facade passes one: the remote client sends it chunked) and
``host.call("blobs_open", key=...)`` read to the end in 1 MiB reads.

A third variant, **raw HTTP**, is plain urllib3 against a trivial WSGI app
(``_remote_rawapp.py``) under gunicorn with the same settings, doing the same file work (1 KiB
file read; 64 MiB written + fsynced; read back in 256 KiB chunks): what HTTP itself costs here,
without Django and Trellis.

Records (``remote.*``):

* ``get_1KiB_p50`` — median latency of a 1 KiB get, remote, against the in-process p50. Target:
  remote adds at most 2 ms (``value - baseline <= 2 ms``). The three variants are interleaved
  call by call (order reversed every round, GC off). ``get_1KiB_p95`` (no target) is the tail;
  ``get_1KiB_p50_vs_raw_http`` compares with the raw HTTP round trip of the same size.
* ``put_1KiB_p50`` — the same for a 1 KiB write (no target; both sides fsync file and dir).
* ``get_1KiB_rate_c1`` / ``_c8`` — 1 KiB gets per second with 1 and 8 threads sharing one host
  (the remote client is thread-safe), against the in-process provider at the same concurrency;
  best of interleaved rounds.
* ``put_64MiB_throughput`` / ``get_64MiB_throughput`` — MiB/s, the **median** of 5 interleaved
  rounds (order reversed every round): a 64 MiB put is bound by the disk's fsync, and the best
  of a few such rounds is an outlier more often than a fair figure. Target: remote >= 0.5x
  in-process. ``*_vs_raw_http``: against the raw HTTP reference.
* ``client_rss_growth_*_64MiB`` — this client process's peak-RSS (VmHWM) growth during one
  64 MiB transfer (the worst round); the baseline is the in-process provider's growth.
  ``service_rss_growth_*_64MiB`` — the same for the gunicorn workers (the children of the
  master; the largest growth among them). Target: < 64 MiB (nothing buffers the blob). The
  peak is reset before each transfer (``/proc/<pid>/clear_refs``) where the kernel allows it.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, Record, clean_env, record, run_python
from trellis.remote.testing import ServiceProcess, free_port, new_secret

KiB = 1024
MiB = 1024 * KiB
BIG = 64 * MiB
ADDED_P50_TARGET_MS = 2.0
THROUGHPUT_TARGET = 0.5
RSS_TARGET_MIB = 64.0

SMALL_ROUNDS = 800  # interleaved 1 KiB gets of each variant
PUT_ROUNDS = 200  # interleaved 1 KiB puts of each variant
RATE_ROUNDS = 3
RATE_SECONDS = 1.0
BIG_ROUNDS = 5

CLIENT = "from bench.areas._remote_client import main; main()"


# -- servers -----------------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the children of the master process."""
    found = subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True, check=False
    ).stdout.split()
    return sorted(int(pid) for pid in found)


def _has_control_socket() -> bool:
    """Whether this gunicorn has a control socket (and ``--no-control-socket``)."""
    config: Any = importlib.import_module("gunicorn.config")
    return any(s.name == "control_socket_disable" for s in config.KNOWN_SETTINGS)


@contextmanager
def raw_server(directory: Path, workers: int = 2) -> Iterator[str]:
    """The raw reference app under gunicorn with ServiceProcess's settings; yields its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "small").write_bytes(os.urandom(KiB))
    port = free_port()
    log = directory / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "bench.areas._remote_rawapp:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(THREADS),
        "--timeout",
        "60",
        "--graceful-timeout",
        "2",
        "--access-logfile",
        "-",
    ]
    if _has_control_socket():
        # Not the default ~/.gunicorn/gunicorn.ctl, which the service's gunicorn is using.
        command.append("--no-control-socket")
    env = clean_env(BENCH_RAW_DIR=str(directory), PYTHONPATH=str(REPO_ROOT))
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the raw reference server exited:\n{log.read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the raw reference server did not start in 30 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _client(phase: str, service: ServiceProcess, raw_url: str, tmp: Path) -> dict[str, Any]:
    assert service.process is not None
    workers = worker_pids(service.process.pid)
    if len(workers) != service.workers:
        raise RuntimeError(f"found gunicorn workers {workers}, expected {service.workers}")
    env = clean_env(
        **service.client_env("blobs"),
        TRELLIS_BLOBS_ROOT=str(tmp / "client-blobs"),
        PYTHONPATH=str(REPO_ROOT),
        BENCH_PHASE=phase,
        BENCH_RAW_URL=raw_url,
        BENCH_WORKER_PIDS=",".join(map(str, workers)),
        BENCH_BIG=str(BIG),
        BENCH_SMALL_ROUNDS=str(SMALL_ROUNDS),
        BENCH_PUT_ROUNDS=str(PUT_ROUNDS),
        BENCH_RATE_ROUNDS=str(RATE_ROUNDS),
        BENCH_RATE_SECONDS=str(RATE_SECONDS),
        BENCH_BIG_ROUNDS=str(BIG_ROUNDS),
    )
    return run_python(CLIENT, env=env, cwd=REPO_ROOT, timeout=300).output


# -- records -----------------------------------------------------------------------------------

IN_PROCESS = "in-process filesystem provider"
THREADS = 4
"""Threads per gunicorn worker, for the service and the raw reference alike."""
RAW = "raw HTTP (urllib3 + trivial WSGI app, same gunicorn settings)"


def small_records(s: dict[str, Any]) -> list[Record]:
    get, put, rates = s["get_1k"], s["put_1k"], s["rate_1k"]
    remote_p50, local_p50 = get["remote"]["p50"], get["filesystem"]["p50"]
    out = [
        record(
            "remote.get_1KiB_p50",
            remote_p50,
            "ms",
            baseline_name=f"{IN_PROCESS}, get 1 KiB p50",
            baseline_value=local_p50,
            target=f"<= baseline + {ADDED_P50_TARGET_MS:g} ms",
            check=lambda v, _r: v - local_p50 <= ADDED_P50_TARGET_MS,
        ),
        record(
            "remote.get_1KiB_p95",
            get["remote"]["p95"],
            "ms",
            baseline_name=f"{IN_PROCESS}, get 1 KiB p95",
            baseline_value=get["filesystem"]["p95"],
        ),
        record(
            "remote.get_1KiB_p50_vs_raw_http",
            remote_p50,
            "ms",
            baseline_name=f"{RAW}, POST -> 1 KiB p50",
            baseline_value=get["raw"]["p50"],
        ),
        record(
            "remote.put_1KiB_p50",
            put["remote"]["p50"],
            "ms",
            baseline_name=f"{IN_PROCESS}, put 1 KiB p50",
            baseline_value=put["filesystem"]["p50"],
        ),
    ]
    for threads in (1, 8):
        out.append(
            record(
                f"remote.get_1KiB_rate_c{threads}",
                rates[f"remote_c{threads}"],
                "calls/s",
                baseline_name=f"{IN_PROCESS}, {threads} thread(s)",
                baseline_value=rates[f"filesystem_c{threads}"],
            )
        )
    return out


def big_records(b: dict[str, Any]) -> list[Record]:
    rate, client, service = b["mib_s"], b["client_growth_mib"], b["service_growth_mib"]
    out: list[Record] = []
    for op in ("put", "get"):
        out.append(
            record(
                f"remote.{op}_64MiB_throughput",
                rate[f"remote_{op}"],
                "MiB/s",
                baseline_name=f"{IN_PROCESS}, {op} 64 MiB",
                baseline_value=rate[f"filesystem_{op}"],
                target=f">= {THROUGHPUT_TARGET:g}x baseline",
                check=lambda _v, ratio: ratio is not None and ratio >= THROUGHPUT_TARGET,
            )
        )
    for op in ("put", "get"):
        out.append(
            record(
                f"remote.{op}_64MiB_throughput_vs_raw_http",
                rate[f"remote_{op}"],
                "MiB/s",
                baseline_name=f"{RAW}, {op} 64 MiB",
                baseline_value=rate[f"raw_{op}"],
            )
        )
    for op in ("put", "get"):
        out.append(
            record(
                f"remote.client_rss_growth_{op}_64MiB",
                client[f"remote_{op}"],
                "MiB",
                baseline_name=f"{IN_PROCESS}, same transfer",
                baseline_value=client[f"filesystem_{op}"],
                target=f"< {RSS_TARGET_MIB:g} MiB",
                check=lambda v, _r: v < RSS_TARGET_MIB,
            )
        )
    for op in ("put", "get"):
        out.append(
            record(
                f"remote.service_rss_growth_{op}_64MiB",
                service[f"remote_{op}"],
                "MiB",
                baseline_name="gunicorn worker RSS after the run (largest)",
                baseline_value=b["service_rss_mib"],
                target=f"< {RSS_TARGET_MIB:g} MiB",
                check=lambda v, _r: v < RSS_TARGET_MIB,
            )
        )
    return out


def run() -> list[Record]:
    with tempfile.TemporaryDirectory(prefix="trellis-bench-remote-") as name:
        tmp = Path(name)
        service = ServiceProcess(
            "blobs_service",
            data_dir=tmp / "service",
            secret=new_secret(),
            workers=2,
            threads=THREADS,
        )
        with service, raw_server(tmp / "raw") as raw_url:
            small = _client("small", service, raw_url, tmp)
            big = _client("big", service, raw_url, tmp)
    if not big.get("peak_reset"):
        print("remote: peak RSS could not be reset; growth is peak after minus peak before")
    return small_records(small) + big_records(big)
