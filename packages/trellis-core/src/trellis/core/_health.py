"""Running health checks contributed through ``core_health_checks``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter_ns
from typing import TYPE_CHECKING

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


def run_health_checks(host: Host, only: str | None = None) -> HealthReport:
    """Run every check (or just ``only``) and time each one.

    A check that raises is reported as ``fail`` with the exception's type and message.

    :raises UnknownCheck: ``only`` names no check; the message lists the names.
    """
    checks = health_checks(host)
    if only is not None:
        selected = [(p, c) for p, c in checks if c.name == only]
        if not selected:
            names = ", ".join(sorted({c.name for _, c in checks}))
            raise UnknownCheck(f"no health check named {only!r}; checks: {names}")
        checks = selected
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
        start = perf_counter_ns()
        try:
            result = check.check() or HealthResult()
        except Exception as exc:
            result = HealthResult("fail", describe_exception(exc))
        elapsed = (perf_counter_ns() - start) / 1e6
        outcomes.append(
            CheckOutcome(
                check.name,
                plugin,
                result.status,
                result.message,
                round(elapsed, 3),
                dict(result.details),
            )
        )
    worst: HealthStatus = max((o.status for o in outcomes), key=_RANK.__getitem__, default="ok")
    return HealthReport(worst, tuple(outcomes))


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
