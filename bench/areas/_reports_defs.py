"""The report of area ``reports`` and the naive SQL it is compared with.

Report ``bench``/``visits``: ``form.submitted`` records of form ``household_visit``, grouped by
``data.village`` and the ISO week (Monday) of ``received_at``; ``count`` and ``avg`` of
``data.household_size``. The naive query computes the same from the raw submissions table
(``trellis_forms_submission``: ``data`` is ``jsonb`` on PostgreSQL, JSON text on SQLite).
"""

from __future__ import annotations

from typing import Any

from bench.areas import _forms_payload as p

SLUG = "visits"
FILTER_VILLAGE = "village-07"


def define(domain: str = p.DOMAIN) -> None:
    """Define the report (through the trellis-reports facade) and rebuild it (empty)."""
    from trellis import reports

    reports.report_define(
        domain=domain,
        slug=SLUG,
        title="Visits by village and week",
        source_topic="form.submitted",
        filters=[{"field": "form", "op": "eq", "value": p.FORM}],
        group_by=[
            {"field": "data.village", "as": "village"},
            {"field": "received_at", "truncate": "week", "as": "week"},
        ],
        aggregates=[
            {"fn": "count", "as": "visits"},
            {"fn": "avg", "field": "data.household_size", "as": "avg_size"},
        ],
        chart={"type": "bar", "x": "week", "y": "visits"},
    )
    reports.report_rebuild(domain=domain, slug=SLUG)


def naive_sql(vendor: str, *, village: bool) -> str:
    """``GROUP BY`` over the raw submissions of one domain (``%s``: domain id[, village])."""
    if vendor == "postgresql":
        v = "s.data ->> 'village'"
        week = "to_char(date_trunc('week', s.received_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
        size = "(s.data ->> 'household_size')::numeric"
    else:
        v = "json_extract(s.data, '$.village')"
        week = "date(s.received_at, '-6 days', 'weekday 1')"
        size = "json_extract(s.data, '$.household_size')"
    where = "s.domain_id = %s AND s.form_name = %s" + (f" AND {v} = %s" if village else "")
    return (
        f"SELECT {v} AS village, {week} AS week, count(*) AS visits, avg({size}) AS avg_size "
        f"FROM trellis_forms_submission s WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2"
    )


def naive_params(domain_id: int, *, village: bool) -> list[Any]:
    return [domain_id, p.FORM, *([FILTER_VILLAGE] if village else [])]
