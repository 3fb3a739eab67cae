"""Running health checks contributed through ``core_health_checks``."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import UnknownCheck
from ._loader import describe_exception
from ._types import HealthCheck, HealthResult, HealthStatus

if TYPE_CHECKING:
    from ._host import Host

_RANK: dict[HealthStatus, int] = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one health check run."""

    name: str
    plugin: str
    status: HealthStatus
    message: str
    duration_ms: float
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReport:
    """All checks run, with the worst status as the overall one."""

    status: HealthStatus
    checks: tuple[CheckOutcome, ...]

    def as_dict(self) -> dict[str, object]:
        """The ``/health`` JSON body."""
        return asdict(self)


def health_checks(host: Host) -> list[tuple[str, HealthCheck]]:
    """``(plugin, check)`` for every contributed check, plus the host's own ``plugins`` check."""
    found: list[tuple[str, HealthCheck]] = [("core", HealthCheck("plugins", _plugins_check(host)))]
    for plugin, checks in host.collect_by_plugin("core_health_checks", return_exceptions=True):
        try:
            if isinstance(checks, Exception):
                raise checks
            contributed = list(checks)
            bad = [c for c in contributed if not isinstance(c, HealthCheck)]
            if bad:
                raise TypeError(f"expected HealthCheck objects, got {bad[0]!r}")
        except Exception as exc:
            found.append((plugin, HealthCheck(_check_name(plugin), _failed(plugin, exc))))
            continue
        found.extend((plugin, check) for check in contributed)
    return found


def _check_name(plugin: str) -> str:
    """A valid check name derived from a plugin name (``'Shop Plugin'`` → ``'shop-plugin'``)."""
    name = re.sub(r"[^a-z0-9_.-]+", "-", plugin.lower()).strip("-")
    return name if name[:1].isalpha() else f"plugin-{name}".rstrip("-")


def _failed(plugin: str, exc: Exception) -> Callable[[], HealthResult]:
    message = f"plugin {plugin!r} failed in core_health_checks: {describe_exception(exc)}"
    return lambda: HealthResult("fail", message)


class ResultCache(Protocol):
    """Where deep-check results are kept between runs: Django's cache API subset.

    ``add`` must be atomic (set only if absent): it elects the one caller that runs a deep
    check in an interval. Django's cache backends (local memory, Redis, database) are.
    """

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, timeout: float | None = ...) -> None: ...

    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool: ...


class MemoryCache:
    """An in-process :class:`ResultCache` (for use without Django's cache)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[Any, float | None]] = {}

    def _live(self, key: str, now: float) -> bool:
        entry = self._values.get(key)
        return entry is not None and (entry[1] is None or entry[1] > now)

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._values[key][0] if self._live(key, time.monotonic()) else default

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        with self._lock:
            expires = None if timeout is None else time.monotonic() + timeout
            self._values[key] = (value, expires)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._live(key, now):
                return False
            self._values[key] = (value, None if timeout is None else now + timeout)
            return True


_PROCESS_CACHE = MemoryCache()


def run_health_checks(
    host: Host,
    only: str | None = None,
    *,
    deep: bool = True,
    cache: ResultCache | None = None,
    interval: float = 60.0,
) -> HealthReport:
    """Run every check (or just ``only``) and time each one.

    A check that raises is reported as ``fail`` with the exception's type and message.
    Deep checks (:attr:`HealthCheck.deep`) are skipped when ``deep`` is false; otherwise each
    runs at most once per ``interval`` seconds among all callers sharing ``cache`` (default:
    one per process), and the other callers get its last result (``details["age_s"]`` says
    how old) or, before its first run has finished, a ``warn`` saying it is pending.

    :raises UnknownCheck: ``only`` names no check; the message lists the names.
    """
    checks = health_checks(host)
    if not deep:
        checks = [(p, c) for p, c in checks if not c.deep]
    if only is not None:
        selected = [(p, c) for p, c in checks if c.name == only]
        if not selected:
            names = ", ".join(sorted({c.name for _, c in checks}))
            raise UnknownCheck(f"no health check named {only!r}; checks: {names}")
        checks = selected
    store = _PROCESS_CACHE if cache is None else cache
    outcomes: list[CheckOutcome] = []
    seen: dict[str, str] = {}
    for plugin, check in checks:
        if check.name in seen:
            outcomes.append(
                CheckOutcome(
                    check.name,
                    plugin,
                    "fail",
                    f"duplicate check name: plugins {seen[check.name]!r} and {plugin!r} "
                    "both contribute it",
                    0.0,
                )
            )
            continue
        seen[check.name] = plugin
        if check.deep:
            outcomes.append(_deep(plugin, check, store, interval))
        else:
            outcomes.append(_run(plugin, check))
    worst: HealthStatus = max((o.status for o in outcomes), key=_RANK.__getitem__, default="ok")
    return HealthReport(worst, tuple(outcomes))


def _run(plugin: str, check: HealthCheck) -> CheckOutcome:
    start = perf_counter_ns()
    try:
        result = check.check() or HealthResult()
    except Exception as exc:
        result = HealthResult("fail", describe_exception(exc))
    elapsed = (perf_counter_ns() - start) / 1e6
    return CheckOutcome(
        check.name, plugin, result.status, result.message, round(elapsed, 3), dict(result.details)
    )


def _deep(plugin: str, check: HealthCheck, cache: ResultCache, interval: float) -> CheckOutcome:
    """Run a deep check if this caller wins the interval's claim; else its last result.

    No lock is held while the check runs: the claim is an atomic ``add`` that expires with
    the interval, so a crashed runner only delays the next run by one interval.
    """
    # Plugin names may hold characters cache backends refuse in keys (spaces, colons).
    digest = hashlib.sha256(f"{plugin}\0{check.name}".encode()).hexdigest()[:32]
    key = f"trellis:health:{check.name}:{digest}"
    last = cache.get(key)
    now = time.time()
    if (last is None or now - last[1] >= interval) and cache.add(
        f"{key}:claim", now, timeout=interval
    ):
        outcome = _run(plugin, check)
        cache.set(key, (outcome, time.time()), timeout=None)
        return outcome
    if last is None:
        return CheckOutcome(
            check.name, plugin, "warn", "deep check pending: its first run has not finished", 0.0
        )
    previous: CheckOutcome = last[0]
    at: float = last[1]
    return replace(previous, details={**previous.details, "age_s": round(now - at, 1)})


def _plugins_check(host: Host) -> Callable[[], HealthResult]:
    def check() -> HealthResult:
        quarantined = {r.name: r.reason for r in host.plugins() if r.status == "quarantined"}
        active = sum(1 for r in host.plugins() if r.status == "active")
        if quarantined:
            return HealthResult(
                "warn",
                f"{len(quarantined)} plugin(s) quarantined: {', '.join(quarantined)}",
                {"active": active, "quarantined": quarantined},
            )
        return HealthResult("ok", f"{active} plugin(s) active", {"active": active})

    return check
