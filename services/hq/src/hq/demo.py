"""The demo a newcomer sees on first start: a project space with a form, submissions and a report.

``python -m hq hq_demo`` (run by ``nox -s serve``) seeds it once: domain ``demo``, a
household-visit form that opens and updates ``household`` cases, the same visit as an
XLSForm for field clients (ODK Collect, Enketo: ``/a/demo/formList``), a few thousand
generated submissions (deterministic, spread over the last twelve weeks) and the report
"Visits per village per week" with the average household size, over both forms. It goes
through the same public APIs a device and an analyst use (``trellis.forms.submit``,
``trellis.reports.report_define``), so the report's numbers come from the change feed like
any other.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

DOMAIN = "demo"
FORM = "household_visit"
ODK_FORM = "household_visit_odk"
"""The same visit as an XLSForm (``hq/xlsforms/household_visit_odk.md``) for ODK Collect and
Enketo: it updates the same ``household`` cases (an ODK entity) and feeds the same report."""
REPORT = "visits_per_village_week"
VILLAGES = ("Amani", "Baraka", "Chemchemi", "Dodoma", "Furaha", "Jamhuri")
WATER = ("piped", "well", "river", "rain")

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["household_id", "village", "visit_date", "household_size"],
    "additionalProperties": False,
    "properties": {
        "household_id": {"type": "string", "pattern": "^hh-[0-9]{4}$"},
        "village": {"enum": list(VILLAGES)},
        "visit_date": {"type": "string", "format": "date"},
        "household_size": {"type": "integer", "minimum": 1, "maximum": 30},
        "children_under_5": {"type": "integer", "minimum": 0, "maximum": 15},
        "water_source": {"enum": list(WATER)},
        "moved_away": {"type": "boolean"},
    },
}

CASE_RULES: list[dict[str, Any]] = [
    {
        "case_type": "household",
        "case_id": "/household_id",
        "action": "upsert",
        "properties": {
            "village": "/village",
            "household_size": "/household_size",
            "water_source": "/water_source",
            "last_visit": "/visit_date",
        },
        "close_when": "/moved_away",
    }
]

REPORT_DEFINITION: dict[str, Any] = {
    "title": "Visits per village per week",
    "source_topic": "form.submitted",
    "filters": [{"field": "form", "op": "in", "value": [FORM, ODK_FORM]}],
    "group_by": [
        {"field": "data.village", "as": "village"},
        {"field": "data.visit_date", "truncate": "week", "as": "week"},
    ],
    "aggregates": [
        {"fn": "count", "as": "visits"},
        {"fn": "avg", "field": "data.household_size", "as": "avg_household_size"},
    ],
    "chart": {"type": "line", "x": "week", "y": "visits", "series": "village"},
}


@dataclass(frozen=True)
class Seeded:
    """What :func:`seed` did: ``created`` is False when the demo was already there."""

    created: bool
    submissions: int
    report_path: str


def submissions(count: int, *, today: date, seed: int = 12) -> list[dict[str, Any]]:
    """``count`` household visits, deterministic for a seed, dated over the twelve whole weeks
    (Monday to Sunday) before the week of ``today``."""
    rng = random.Random(seed)  # noqa: S311 - made-up demo data, reproducible by design
    # Twelve whole weeks, Monday to Sunday, ending before the current week: no partial week
    # at either end of the chart.
    first = today - timedelta(days=today.weekday(), weeks=12)
    households = max(1, count // 4)
    moved: set[int] = set()  # a household that moved away is closed: nobody visits it again
    visits = []
    for number in range(count):
        household = rng.randrange(households)
        while household in moved:
            household = rng.randrange(households)
        village = VILLAGES[household % len(VILLAGES)]
        data: dict[str, Any] = {
            "household_id": f"hh-{household:04d}",
            "village": village,
            "visit_date": (first + timedelta(days=rng.randrange(84))).isoformat(),
            "household_size": rng.randint(1, 9) + (2 if village in ("Baraka", "Furaha") else 0),
            "children_under_5": rng.randint(0, 3),
            "water_source": rng.choice(WATER),
        }
        if rng.random() < 0.02 and len(moved) < households - 1:
            data["moved_away"] = True
            moved.add(household)
        visits.append({"id": f"demo-{seed}-{number:06d}", "data": data})
    return visits


def add_xlsform() -> None:
    """Add the demo's XLSForm (when trellis-openrosa is installed): field clients see it in
    ``/a/demo/formList``."""
    from importlib import resources
    from importlib.util import find_spec

    if find_spec("trellis.openrosa") is None:
        return
    from trellis import openrosa

    source = resources.files("hq").joinpath("xlsforms", f"{ODK_FORM}.md")
    openrosa.xlsform_add(domain=DOMAIN, content=source.read_bytes(), filename=source.name)


def seed(
    *,
    count: int = 3000,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 250,
) -> Seeded:
    """Create the demo domain, form, report and ``count`` submissions, unless it exists."""
    from django.db import transaction

    from trellis import forms, reports

    path = f"/reports/{DOMAIN}/{REPORT}/"
    if forms.domain_exists(DOMAIN):
        return Seeded(created=False, submissions=0, report_path=path)
    with transaction.atomic():
        forms.domain_create(name=DOMAIN, title="Demo project space")
        forms.form_define(
            domain=DOMAIN,
            name=FORM,
            version=1,
            title="Household visit",
            schema=SCHEMA,
            case_rules=CASE_RULES,
        )
        reports.report_define(domain=DOMAIN, slug=REPORT, **REPORT_DEFINITION)
        add_xlsform()
    visits = submissions(count, today=today or date.today())
    for start in range(0, len(visits), batch):
        with transaction.atomic():  # the inline event provider handles each batch at commit
            for visit in visits[start : start + batch]:
                forms.submit(
                    domain=DOMAIN, form=FORM, submission_id=visit["id"], data=visit["data"]
                )
        if progress is not None:
            progress(min(start + batch, len(visits)), len(visits))
    return Seeded(created=True, submissions=len(visits), report_path=path)
