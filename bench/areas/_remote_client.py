"""The client side of benchmark area ``remote``, run in a fresh subprocess by ``remote.py``.

``python -c "from bench.areas._remote_client import main; main()"`` with ``BENCH_PHASE``
``small`` or ``big``; the environment carries the remote client's settings
(``TRELLIS_REMOTE_BLOBS_URL`` / ``_SECRET``), ``TRELLIS_BLOBS_ROOT`` for the in-process
filesystem provider, the raw reference server's URL (``BENCH_RAW_URL``) and the service's
gunicorn worker pids (``BENCH_WORKER_PIDS``). Prints one JSON object (the last stdout line).

Both variants are hosts of this process built with ``isolated_host(discover=True,
providers={"blobs": ...})`` and measured at the provider-hook level: ``host.call("blobs_write",
key=..., stream=...)`` and ``host.call("blobs_open", key=...)`` read to the end in 1 MiB reads
and closed. Writes read from a non-seekable stream, as the ``trellis.blobs`` facade passes one
(its ``MeteredReader``): the remote client sends it chunked.
"""

from __future__ import annotations

import gc
import io
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import urllib3

from trellis.core import Host
from trellis.core.testing import isolated_host

KiB = 1024
MiB = 1024 * KiB
VARIANTS = ("remote", "filesystem")


class Pattern(io.RawIOBase):
    """``size`` bytes of a random 1 MiB block repeated, made read by read (never whole)."""

    def __init__(self, size: int, block: bytes) -> None:
        super().__init__()
        self.left = size
        self.block = block

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = min(self.left, len(self.block) if size is None or size < 0 else size)
        self.left -= size
        if size <= len(self.block):
            return self.block[:size]
        return (self.block * (size // len(self.block) + 1))[:size]


# -- memory ------------------------------------------------------------------------------------


def _status_kib(pid: str, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def _reset_peak(pid: str) -> bool:
    """Reset the peak RSS (VmHWM) of ``pid`` to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


@contextmanager
def peak_growth(pids: list[str], found: dict[str, float]) -> Iterator[None]:
    """Fill ``found`` with each pid's peak-RSS growth (MiB) during the block.

    The peak is reset first where the kernel allows it, so growth is the peak during the block
    minus the RSS at its start; otherwise the peak after minus the peak before.
    """
    before = {}
    for pid in pids:
        _reset_peak(pid)
        before[pid] = _status_kib(pid, "VmHWM")
    yield
    for pid in pids:
        found[pid] = (_status_kib(pid, "VmHWM") - before[pid]) / 1024


# -- calls -------------------------------------------------------------------------------------


def get(host: Host, key: str) -> int:
    total = 0
    with host.call("blobs_open", key=key) as stream:
        while chunk := stream.read(MiB):
            total += len(chunk)
    return total


def put(host: Host, key: str, size: int, block: bytes) -> None:
    host.call("blobs_write", key=key, stream=Pattern(size, block))


def _get_nth(host: Host, key: str, _i: int) -> int:
    return get(host, key)


def _put_nth(host: Host, prefix: str, block: bytes, i: int) -> None:
    put(host, f"{prefix}{i}", KiB, block)


class Raw:
    """Plain urllib3 against the raw reference server (``_remote_rawapp``)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.pool = urllib3.PoolManager(
            maxsize=16, block=False, blocksize=256 * KiB, timeout=urllib3.Timeout(5, read=60)
        )

    def small(self) -> int:
        response = self.pool.urlopen(
            "POST",
            self.url + "/small",
            body=b'{"key":"bench/x"}',
            headers={"Content-Type": "application/json"},
            preload_content=False,
            retries=False,
        )
        return self._drain(response)

    def put(self, name: str, size: int, block: bytes) -> None:
        response = self.pool.urlopen(
            "PUT",
            f"{self.url}/big/{name}",
            body=Pattern(size, block),
            chunked=True,
            preload_content=False,
            retries=False,
        )
        self._drain(response)

    def get(self, name: str) -> int:
        response = self.pool.urlopen(
            "GET", f"{self.url}/big/{name}", preload_content=False, retries=False
        )
        return self._drain(response)

    @staticmethod
    def _drain(response: urllib3.BaseHTTPResponse) -> int:
        if response.status != 200:
            raise RuntimeError(f"the raw reference server answered {response.status}")
        total = 0
        while chunk := response.read(MiB):
            total += len(chunk)
        response.release_conn()
        return total


def _raw_nth(raw: Raw, _i: int) -> int:
    return raw.small()


def hosts() -> dict[str, Host]:
    built = {name: isolated_host(discover=True, providers={"blobs": name}) for name in VARIANTS}
    for name, host in built.items():
        selected = host.selected_provider("blobs")
        if selected != name:
            raise RuntimeError(f"the {name} host selected provider {selected!r}")
    return built


def _ms(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered) / 1e6,
        "p95": ordered[int(0.95 * (len(ordered) - 1))] / 1e6,
        "n": len(ordered),
    }


def _interleaved(calls: dict[str, Callable[[int], object]], rounds: int) -> dict[str, list[int]]:
    """Per-call ns of each variant, call by call interleaved (order reversed every round)."""
    samples: dict[str, list[int]] = {name: [] for name in calls}
    order = list(calls)
    gc.collect()
    gc.disable()
    try:
        for i in range(rounds):
            for name in order if i % 2 == 0 else reversed(order):
                call = calls[name]
                start = time.perf_counter_ns()
                call(i)
                samples[name].append(time.perf_counter_ns() - start)
    finally:
        gc.enable()
    return samples


def rate(call: Callable[[], object], threads: int, duration: float) -> float:
    """Calls per second of ``threads`` threads calling ``call`` in a loop for ``duration`` s."""
    stop = threading.Event()
    start = threading.Barrier(threads + 1)
    counts = [0] * threads
    failures: list[BaseException] = []

    def loop(index: int) -> None:
        start.wait()
        done = 0
        try:
            while not stop.is_set():
                call()
                done += 1
        except BaseException as exc:
            failures.append(exc)
        counts[index] = done

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(duration)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise failures[0]
    return sum(counts) / elapsed


# -- phases ------------------------------------------------------------------------------------


def small_phase() -> dict[str, Any]:
    """1 KiB get and put latency (p50, p95), and 1 KiB get calls/s at concurrency 1 and 8."""
    built = hosts()
    raw = Raw(os.environ["BENCH_RAW_URL"])
    block = os.urandom(MiB)
    content = block[:KiB]
    for name, host in built.items():
        put(host, f"bench/small-{name}", KiB, block)
        with host.call("blobs_open", key=f"bench/small-{name}") as stream:
            if stream.read() != content:
                raise RuntimeError(f"the {name} provider gave back other content")
    if raw.small() != KiB:
        raise RuntimeError("the raw reference server did not answer 1 KiB")
    # Warm-up: every gunicorn worker imports the rest of Django on its first request.
    remote = built["remote"]
    rate(partial(get, remote, "bench/small-remote"), 4, 0.5)
    rate(raw.small, 4, 0.3)
    rounds = int(os.environ["BENCH_SMALL_ROUNDS"])
    getters: dict[str, Callable[[int], object]] = {
        name: partial(_get_nth, host, f"bench/small-{name}") for name, host in built.items()
    }
    getters["raw"] = partial(_raw_nth, raw)
    got = _interleaved(getters, rounds)
    putters: dict[str, Callable[[int], object]] = {
        name: partial(_put_nth, host, f"bench/put-{name}-", block) for name, host in built.items()
    }
    puts = _interleaved(putters, int(os.environ["BENCH_PUT_ROUNDS"]))
    duration = float(os.environ["BENCH_RATE_SECONDS"])
    rates: dict[str, list[float]] = {}
    for i in range(int(os.environ["BENCH_RATE_ROUNDS"])):
        variants = [(name, threads) for threads in (1, 8) for name in built]
        for name, threads in variants if i % 2 == 0 else reversed(variants):
            call = partial(get, built[name], f"bench/small-{name}")
            rates.setdefault(f"{name}_c{threads}", []).append(rate(call, threads, duration))
    return {
        "get_1k": {name: _ms(values) for name, values in got.items()},
        "put_1k": {name: _ms(values) for name, values in puts.items()},
        "rate_1k": {name: max(values) for name, values in rates.items()},
        "rate_1k_all": rates,
    }


def big_phase() -> dict[str, Any]:
    """64 MiB put and get: throughput, and peak-RSS growth of this process and the workers."""
    built = hosts()
    raw = Raw(os.environ["BENCH_RAW_URL"])
    size = int(os.environ["BENCH_BIG"])
    workers = os.environ["BENCH_WORKER_PIDS"].split(",")
    block = os.urandom(MiB)
    # Warm every path (and each worker) with 2 MiB transfers before the first measurement.
    for name, host in built.items():
        for i in range(4):
            put(host, f"bench/warm-{name}-{i}", 2 * MiB, block)
            get(host, f"bench/warm-{name}-{i}")
    raw.put("warm", 2 * MiB, block)
    raw.get("warm")
    seconds: dict[str, list[float]] = {}
    client_growth: dict[str, list[float]] = {}
    service_growth: dict[str, list[float]] = {}
    order = [*built, "raw"]
    gc.collect()
    for i in range(int(os.environ["BENCH_BIG_ROUNDS"])):
        for op in ("put", "get"):
            for name in order if i % 2 == 0 else reversed(order):
                transfer: Callable[[], object]
                if name == "raw":
                    transfer = (
                        partial(raw.put, f"big{i}", size, block)
                        if op == "put"
                        else partial(raw.get, f"big{i}")
                    )
                else:
                    key = f"bench/big-{name}-{i}"
                    transfer = (
                        partial(put, built[name], key, size, block)
                        if op == "put"
                        else partial(get, built[name], key)
                    )
                pids = ["self", *workers] if name == "remote" else ["self"]
                grown: dict[str, float] = {}
                with peak_growth(pids, grown):
                    start = time.perf_counter()
                    got = transfer()
                    elapsed = time.perf_counter() - start
                if op == "get" and got != size:
                    raise RuntimeError(f"{name} gave back {got} bytes, not {size}")
                seconds.setdefault(f"{name}_{op}", []).append(elapsed)
                client_growth.setdefault(f"{name}_{op}", []).append(grown["self"])
                if name == "remote":
                    service = max(grown[pid] for pid in workers)
                    service_growth.setdefault(f"remote_{op}", []).append(service)
    return {
        # Median of the rounds: these transfers are disk- and scheduler-bound (fsync of 64 MiB),
        # and the best round is an outlier more often than a fair figure.
        "mib_s": {name: size / MiB / statistics.median(values) for name, values in seconds.items()},
        "seconds_all": seconds,
        "client_growth_mib": {name: max(values) for name, values in client_growth.items()},
        "service_growth_mib": {name: max(values) for name, values in service_growth.items()},
        "service_rss_mib": max(_status_kib(pid, "VmRSS") for pid in workers) / 1024,
        "client_rss_mib": _status_kib("self", "VmRSS") / 1024,
        "peak_reset": _reset_peak("self") and all(_reset_peak(pid) for pid in workers),
    }


def main() -> None:
    phase = os.environ["BENCH_PHASE"]
    result = small_phase() if phase == "small" else big_phase()
    print(json.dumps(result))
