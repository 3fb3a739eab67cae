"""Benchmark area ``core``: the cost of the plugin host itself.

* **Hook calls** — per-call time of a direct Python call, a raw pluggy hook call (one
  implementation, ``firstresult``), and a Trellis provider call through a module-level facade
  (``def put(x): return host.call("kv_put", x=x)``) with monitoring on and off. The
  ``overhead_*`` records are the Trellis call minus the raw pluggy call (best of the repeats,
  all variants interleaved); their ``ratio`` is the Trellis call time over the raw pluggy one.
* **Discovery** — ``import trellis.core`` + ``create_host()`` timed inside a fresh
  subprocess (entry-point scan cache cold), against the wall time of a whole
  ``python -c "import pluggy"`` process.
* **hq start-up** — ``django.setup()``, loading ``WSGI_APPLICATION`` and resolving/reversing
  the admin URL, for ``hq.settings`` and for a bare ``django-admin startproject`` project, in
  alternated fresh subprocesses; medians of the in-process time and of the process wall time.
* **The edge** — per-request time of ``GET /health/live`` through Django's test client in
  hq, with and without ``EdgeMiddleware`` (request ids, JSON errors), best of interleaved
  rounds.

Subprocess timings use a bytecode cache in a temporary ``PYTHONPYCACHEPREFIX`` (warmed by an
untimed run), as an installed deployment has ``.pyc`` files; nothing is written to the source
tree. The ``*_no_pyc`` records repeat a measurement with ``PYTHONDONTWRITEBYTECODE=1`` and no
prefix — how a checkout with editable installs and no ``__pycache__`` starts: trellis-core and
hq compiled from source in every process, Django and the stdlib from their installed ``.pyc``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy

from bench._common import (
    ProcessRun,
    Record,
    Snippet,
    alternate_runs,
    clean_env,
    median,
    record,
    time_calls,
)
from trellis.core import PROJECT_NAME, Config, Contract, Host, create_host, hookimpl, hookspec

# -- hook calls --------------------------------------------------------------------------------

CALL_TARGET_US = 1.0
FACADE_SOURCE = '''
def put(x):
    """Store ``x`` through the selected ``kv`` provider."""
    return host.call("kv_put", x=x)
'''


def _kv_modules() -> tuple[types.ModuleType, types.ModuleType]:
    """A test-only ``kv`` contract (hookspec module) and its ``memory`` provider plugin."""
    spec = types.ModuleType("bench_kv_hookspecs", "Test-only contract 'kv'.")

    @hookspec(firstresult=True)
    def kv_put(x: Any) -> Any:
        """Store ``x`` and return it."""

    spec.__dict__.update(CONTRACT=Contract("kv", "1.0.0"), kv_put=kv_put)

    plugin = types.ModuleType("bench_kv_memory", "Test-only 'memory' provider of 'kv'.")

    @hookimpl
    def kv_put_impl(x: Any) -> Any:
        return x

    kv_put_impl.__name__ = kv_put_impl.__qualname__ = "kv_put"
    plugin.__dict__.update(
        TRELLIS_IMPLEMENTS={"kv": ">=1,<2"},
        TRELLIS_PROVIDES={"kv": "memory"},
        TRELLIS_HOOKSPECS=[spec],
        kv_put=kv_put_impl,
    )
    return spec, plugin


def _trellis_host(plugin: types.ModuleType, *, monitor: bool) -> Host:
    host = create_host(
        Config(monitor=monitor, providers={"kv": "memory"}), discover=False, plugins=[plugin]
    )
    bad = [f"{r.name}: {r.reason}" for r in host.plugins() if r.status != "active"]
    if bad:
        raise RuntimeError(f"benchmark plugins not active: {bad}")
    return host


def _facade(host: Host, name: str) -> Callable[[Any], Any]:
    """A real module holding ``host`` and a ``put`` facade, as a subsystem would ship it."""
    module = types.ModuleType(name)
    module.__dict__["host"] = host
    exec(compile(FACADE_SOURCE, f"<{name}>", "exec"), module.__dict__)
    put: Callable[[Any], Any] = module.__dict__["put"]
    return put


def _direct(x: Any) -> Any:
    return x


def call_records() -> list[Record]:
    spec, plugin = _kv_modules()

    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(spec)
    pm.register(plugin, name="memory")

    put_on = _facade(_trellis_host(plugin, monitor=True), "bench_kv_facade_on")
    put_off = _facade(_trellis_host(plugin, monitor=False), "bench_kv_facade_off")
    for label, result in [
        ("direct", _direct(7)),
        ("raw pluggy", pm.hook.kv_put(x=7)),
        ("trellis monitor on", put_on(7)),
        ("trellis monitor off", put_off(7)),
    ]:
        if result != 7:
            raise RuntimeError(f"{label} call returned {result!r}, expected 7")

    timings = time_calls(
        {
            "direct": "direct(1)",
            "raw": "pm.hook.kv_put(x=1)",
            "on": "put_on(1)",
            "off": "put_off(1)",
        },
        namespace={"direct": _direct, "pm": pm, "put_on": put_on, "put_off": put_off},
        repeat=15,
        min_time_ms=40,
    )
    direct, raw = timings["direct"].best_us, timings["raw"].best_us
    on, off = timings["on"].best_us, timings["off"].best_us
    target = f"<= {CALL_TARGET_US:g} us over raw pluggy"

    def overhead(name: str, value: float) -> Record:
        rec = record(
            name,
            value - raw,
            "us",
            baseline_name="raw pluggy hook call",
            baseline_value=raw,
            target=target,
            check=lambda v, _r: v <= CALL_TARGET_US,
        )
        rec.ratio = value / raw  # the whole Trellis call relative to the raw pluggy call
        return rec

    return [
        record("core.call.direct", direct, "us"),
        record(
            "core.call.raw_pluggy",
            raw,
            "us",
            baseline_name="direct Python call",
            baseline_value=direct,
        ),
        record(
            "core.call.trellis_monitor_on",
            on,
            "us",
            baseline_name="raw pluggy hook call",
            baseline_value=raw,
        ),
        record(
            "core.call.trellis_monitor_off",
            off,
            "us",
            baseline_name="raw pluggy hook call",
            baseline_value=raw,
        ),
        overhead("core.call.overhead_monitor_on", on),
        overhead("core.call.overhead_monitor_off", off),
    ]


# -- subprocess environments -------------------------------------------------------------------


def _env(pycache: Path | None, **extra: str) -> dict[str, str]:
    """A clean environment; with ``pycache``, bytecode is cached there (as once installed).

    Without it, ``PYTHONDONTWRITEBYTECODE=1``: editable sources that have no ``__pycache__``
    (trellis-core, hq in this checkout) are compiled from source in every process, while
    Django, pluggy and the stdlib use the bytecode their installers wrote.
    """
    env = clean_env(**extra)
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


# -- discovery ---------------------------------------------------------------------------------

DISCOVERY_TARGET_MS = 50.0
DISCOVERY_RUNS = 9
DISCOVERY_SNIPPET = """
import json, time
t0 = time.perf_counter_ns()
import trellis.core
t1 = time.perf_counter_ns()
host = trellis.core.create_host()
t2 = time.perf_counter_ns()
print(json.dumps({
    "import_ms": (t1 - t0) / 1e6,
    "create_ms": (t2 - t1) / 1e6,
    "total_ms": (t2 - t0) / 1e6,
    "plugins": {r.name: r.status for r in host.plugins()},
}))
"""
PLUGGY_SNIPPET = """
import json, time
t0 = time.perf_counter_ns()
import pluggy
t1 = time.perf_counter_ns()
pm = pluggy.PluginManager("trellis")
pm.load_setuptools_entrypoints("trellis")
t2 = time.perf_counter_ns()
print(json.dumps({"import_ms": (t1 - t0) / 1e6, "load_ms": (t2 - t1) / 1e6}))
"""
PLUGGY_BASELINE = "pluggy load_setuptools_entrypoints('trellis'), fresh process"


def discovery_records(tmp: Path, pycache: Path) -> list[Record]:
    cached, uncached = _env(pycache), _env(None)
    results = alternate_runs(
        {
            "host": Snippet(DISCOVERY_SNIPPET, cached, tmp),
            "pluggy": Snippet(PLUGGY_SNIPPET, cached, tmp),
            "host_no_pyc": Snippet(DISCOVERY_SNIPPET, uncached, tmp),
        },
        runs=DISCOVERY_RUNS,
    )
    hosts, no_pyc = results["host"], results["host_no_pyc"]
    plugins = hosts[-1].output["plugins"]
    print(f"[core] create_host() loaded {len(plugins)} plugin(s): {plugins}")

    def ms(runs: list[ProcessRun], key: str) -> float:
        return median([r.output[key] for r in runs])

    # Discovery + load: scanning entry points (importlib.metadata is imported lazily, so its
    # cost is in here), importing each plugin, contract checks and registration.
    return [
        record(
            "core.discovery.create_host",
            ms(hosts, "create_ms"),
            "ms",
            baseline_name=PLUGGY_BASELINE,
            baseline_value=ms(results["pluggy"], "load_ms"),
            target=f"< {DISCOVERY_TARGET_MS:g} ms",
            check=lambda v, _r: v < DISCOVERY_TARGET_MS,
        ),
        record(
            "core.discovery.import_trellis_core",
            ms(hosts, "import_ms"),
            "ms",
            baseline_name="import pluggy",
            baseline_value=ms(results["pluggy"], "import_ms"),
        ),
        record("core.discovery.import_and_create_host", ms(hosts, "total_ms"), "ms"),
        record(
            "core.discovery.process_wall",
            median([r.wall_ms for r in hosts]),
            "ms",
            baseline_name="process wall time of the pluggy baseline",
            baseline_value=median([r.wall_ms for r in results["pluggy"]]),
        ),
        record(
            "core.discovery.create_host_no_pyc",
            ms(no_pyc, "create_ms"),
            "ms",
            baseline_name="core.discovery.create_host (bytecode cached)",
            baseline_value=ms(hosts, "create_ms"),
        ),
    ]


# -- hq start-up -------------------------------------------------------------------------------

STARTUP_TARGET_RATIO = 1.3
STARTUP_RUNS = 11
STARTUP_SNIPPET = """
import json, time
t0 = time.perf_counter_ns()
import django
django.setup()
from django.conf import settings
from django.urls import resolve, reverse
from django.utils.module_loading import import_string
application = import_string(settings.WSGI_APPLICATION)
resolve("/admin/")
reverse("admin:index")
t1 = time.perf_counter_ns()
print(json.dumps({
    "ms": (t1 - t0) / 1e6,
    "apps": list(settings.INSTALLED_APPS),
    "middleware": len(settings.MIDDLEWARE),
}))
"""
BARE = "bare Django startproject"


def _bare_project(where: Path) -> Path:
    """``django-admin startproject bare``: the 6 contrib apps, 7 middleware, SQLite."""
    where.mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "bare", str(where)],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    return where


def startup_records(tmp: Path, pycache: Path) -> list[Record]:
    bare_dir = _bare_project(tmp / "bare")
    data = str(tmp / "hq-data")

    def snippets(cache: Path | None) -> dict[str, Snippet]:
        hq_env = _env(cache, DJANGO_SETTINGS_MODULE="hq.settings", TRELLIS_DATA_DIR=data)
        bare_env = _env(cache, DJANGO_SETTINGS_MODULE="bare.settings", PYTHONPATH=str(bare_dir))
        return {
            "hq": Snippet(STARTUP_SNIPPET, hq_env, tmp),
            "bare": Snippet(STARTUP_SNIPPET, bare_env, bare_dir),
        }

    cached = alternate_runs(snippets(pycache), runs=STARTUP_RUNS)
    no_pyc = alternate_runs(snippets(None), runs=5)
    hq_out, bare_out = cached["hq"][-1].output, cached["bare"][-1].output
    print(
        f"[core] hq: {len(hq_out['apps'])} apps, {hq_out['middleware']} middleware; "
        f"bare: {len(bare_out['apps'])} apps, {bare_out['middleware']} middleware; "
        f"hq extra apps: {[a for a in hq_out['apps'] if a not in bare_out['apps']]}"
    )
    target = f"<= {STARTUP_TARGET_RATIO:g}x bare Django"

    def check(_v: float, ratio: float | None) -> bool:
        return ratio is not None and ratio <= STARTUP_TARGET_RATIO

    def inside(runs: list[ProcessRun]) -> float:
        return median([r.output["ms"] for r in runs])

    def wall(runs: list[ProcessRun]) -> float:
        return median([r.wall_ms for r in runs])

    return [
        record(
            "core.hq.startup",
            inside(cached["hq"]),
            "ms",
            baseline_name=BARE,
            baseline_value=inside(cached["bare"]),
            target=target,
            check=check,
        ),
        record(
            "core.hq.startup_process_wall",
            wall(cached["hq"]),
            "ms",
            baseline_name=BARE,
            baseline_value=wall(cached["bare"]),
            target=target,
            check=check,
        ),
        record(
            "core.hq.startup_no_pyc",
            inside(no_pyc["hq"]),
            "ms",
            baseline_name=f"{BARE} (no pyc)",
            baseline_value=inside(no_pyc["bare"]),
        ),
    ]


# -- the HTTP edge -----------------------------------------------------------------------------

EDGE_TARGET_RATIO = 1.15
EDGE_SNIPPET = """
import json, time
import django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings

EDGE = "trellis.core.django.EdgeMiddleware"
with_edge = Client(SERVER_NAME="localhost")
with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != EDGE]):
    without_edge = Client(SERVER_NAME="localhost")
    without_edge.get("/health/live")  # builds its handler while the override is on
best = {"with": float("inf"), "without": float("inf")}
for _ in range(15):
    for name, client in (("with", with_edge), ("without", without_edge)):
        t0 = time.perf_counter_ns()
        for _ in range(200):
            client.get("/health/live")
        best[name] = min(best[name], (time.perf_counter_ns() - t0) / 200 / 1000)
for client, edge in ((with_edge, True), (without_edge, False)):
    response = client.get("/health/live")
    assert response.status_code == 200, response.status_code
    assert response.has_header("X-Request-ID") is edge
print(json.dumps(best))
"""


def edge_records(tmp: Path, pycache: Path) -> list[Record]:
    """Per-request cost of EdgeMiddleware: ``GET /health/live`` through Django's test client."""
    env = _env(pycache, DJANGO_SETTINGS_MODULE="hq.settings", TRELLIS_DATA_DIR=str(tmp / "edge"))
    result = subprocess.run(
        [sys.executable, "-c", EDGE_SNIPPET],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    best = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        record(
            "core.edge.live_request",
            best["with"],
            "us",
            baseline_name="the same request without EdgeMiddleware",
            baseline_value=best["without"],
            target=f"<= {EDGE_TARGET_RATIO:g}x",
            check=lambda _v, ratio: ratio is not None and ratio <= EDGE_TARGET_RATIO,
        )
    ]


def run() -> list[Record]:
    records = call_records()
    with tempfile.TemporaryDirectory(prefix="trellis-bench-") as name:
        tmp = Path(name)
        pycache = tmp / "pycache"
        records += discovery_records(tmp, pycache)
        records += startup_records(tmp, pycache)
        records += edge_records(tmp, pycache)
    return records
