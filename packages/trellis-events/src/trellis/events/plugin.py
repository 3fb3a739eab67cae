"""The ``events`` plugin: defines the contract; adds the app, a health check and a dashboard panel.

Registered as entry point ``events``. Providers are separate plugins (``events-inline``,
``events-redis``) so each can be allowed, denied or replaced on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trellis.core import DashboardPanel, HealthCheck, HealthResult, get_host, hookimpl

from . import _settings, hookspecs

TRELLIS_HOOKSPECS = [hookspecs]
TRELLIS_IMPLEMENTS = {"core": ">=1.1,<2", "events": ">=1.0,<2"}


@hookimpl
def core_django_apps() -> Sequence[str]:
    return ["trellis.events"]


@hookimpl
def core_health_checks() -> Sequence[HealthCheck]:
    return [HealthCheck("events.processors", processors_health)]


@hookimpl
def core_dashboard_panels() -> Sequence[DashboardPanel]:
    return [
        DashboardPanel(
            "events",
            "Event processors",
            ["Processor", "Topics", "Checkpoints", "Lag", "Dead letters"],
            dashboard_rows,
            empty="No event processors are installed.",
        )
    ]


def dashboard_rows() -> Iterable[Sequence[object]]:
    """One row per processor: name, topics, checkpoints, lag and dead letters."""
    from .selectors import processor_status

    for status in processor_status():
        checkpoints = ", ".join(f"{p}@{n}" for p, n in sorted(status.checkpoints.items()))
        yield (
            status.name,
            ", ".join(status.topics),
            checkpoints or "none yet",
            status.lag,
            status.dead_letters,
        )


def processors_health() -> HealthResult:
    """``warn`` when a processor has dead letters or lags by more than
    ``TRELLIS_EVENTS_LAG_WARNING`` events; ``ok`` otherwise."""
    from .selectors import processor_status

    limit = _settings.lag_warning()
    statuses = processor_status()
    details: dict[str, object] = {
        "provider": get_host().selected_provider("events"),
        "processors": {s.name: {"lag": s.lag, "dead_letters": s.dead_letters} for s in statuses},
    }
    problems = [
        f"{s.name}: {s.dead_letters} dead letter(s) (replay: manage.py events_replay "
        f"--processor {s.name})"
        for s in statuses
        if s.dead_letters
    ]
    problems += [
        f"{s.name}: lag {s.lag} > {limit} (is events_consume running?)"
        for s in statuses
        if s.lag > limit
    ]
    if problems:
        return HealthResult("warn", "; ".join(problems), details)
    total = sum(s.lag for s in statuses)
    return HealthResult(
        "ok",
        f"{len(statuses)} processor(s), no dead letters, lag {total} (warns above {limit})",
        details,
    )
