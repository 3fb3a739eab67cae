"""The ``reports`` plugin: defines the contract; adds the app, URLs, the processor, a health
check, a dashboard panel and the API's OpenAPI part.

Registered as entry point ``reports``. Sources of records and viewing rights come from other
plugins (trellis-forms gives ``form.submitted`` and its domain members).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trellis.core import (
    DashboardPanel,
    HealthCheck,
    HealthResult,
    Link,
    TrellisError,
    UrlMount,
    hookimpl,
)
from trellis.events import Processor

from . import _settings, hookspecs

TRELLIS_HOOKSPECS = [hookspecs]
TRELLIS_IMPLEMENTS = {"core": ">=1.2,<2", "events": ">=1.0,<2", "reports": ">=1.0,<2"}

DASHBOARD_ROWS = 200


@hookimpl
def core_django_apps() -> Sequence[str]:
    return ["trellis.reports"]


@hookimpl
def core_url_mounts() -> Sequence[UrlMount]:
    return [
        UrlMount("a/", "trellis.reports.urls_api", "reports_api", api=True),
        UrlMount("reports/", "trellis.reports.urls_pages", "reports"),
    ]


@hookimpl
def core_health_checks() -> Sequence[HealthCheck]:
    return [HealthCheck("reports.freshness", freshness)]


@hookimpl
def core_dashboard_panels() -> Sequence[DashboardPanel]:
    return [
        DashboardPanel(
            "reports",
            "Reports",
            ["Report", "Domain", "Rows", "Records", "Needs rebuild"],
            dashboard_rows,
            empty="No reports are defined yet (define them in the admin or with "
            "trellis.reports.report_define).",
        )
    ]


@hookimpl
def core_openapi() -> Mapping[str, Any]:
    from ._openapi import openapi

    return openapi()


@hookimpl
def events_processors() -> Sequence[Processor]:
    from ._processing import processor, processor_topics

    return [processor()] if processor_topics() else []


def dashboard_rows() -> Iterable[Sequence[object]]:
    """One row per report (the first 200 by domain and slug): its title links to its page."""
    from django.urls import reverse

    from .models import Report

    for report in Report.objects.order_by("domain", "slug")[:DASHBOARD_ROWS]:
        yield (
            Link(report.title, reverse("reports:report", args=[report.domain, report.slug])),
            report.domain,
            report.groups,
            report.records,
            "yes" if report.needs_rebuild else "no",
        )


def freshness() -> HealthResult:
    """``warn`` when a report needs a rebuild, or the ``reports`` processor has dead letters or
    lags by more than ``TRELLIS_REPORTS_LAG_WARNING`` events; ``ok`` otherwise."""
    from .models import Report

    stale = list(
        Report.objects.filter(needs_rebuild=True)
        .order_by("domain", "slug")
        .values_list("domain", "slug")
    )
    problems = []
    details: dict[str, object] = {"needs_rebuild": [f"{d}/{s}" for d, s in stale]}
    if stale:
        shown = ", ".join(f"{d}/{s}" for d, s in stale[:5]) + (" ..." if len(stale) > 5 else "")
        problems.append(
            f"{len(stale)} report(s) need a rebuild ({shown}): manage.py reports_rebuild --all"
        )
    limit = _settings.lag_warning()
    try:
        from trellis.events.selectors import processor_status

        [status] = processor_status("reports")
    except (TrellisError, ValueError):
        status = None  # no source installed: no processor
    if status is not None:
        details["lag"] = status.lag
        details["dead_letters"] = status.dead_letters
        if status.lag > limit:
            problems.append(f"the reports processor lags by {status.lag} events (> {limit})")
        if status.dead_letters:
            problems.append(
                f"the reports processor has {status.dead_letters} dead letter(s): "
                "manage.py events_replay --processor reports"
            )
    if problems:
        return HealthResult("warn", "; ".join(problems), details)
    count = Report.objects.count()
    return HealthResult("ok", f"{count} report(s), all rebuilt, processor caught up", details)
