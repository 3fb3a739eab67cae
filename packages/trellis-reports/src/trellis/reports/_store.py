"""Writing aggregate state under the report's row lock: incremental batches and rebuilds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ._aggregates import GroupState, State, contribution, merge
from ._types import Definition
from ._values import group_hash, group_text, sort_key, value_hash

if TYPE_CHECKING:
    from .models import Report, ReportDistinct, ReportRow

CHUNK = 500
"""Rows per ``IN (...)`` list and per bulk insert (SQLite allows 999 variables)."""


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def locked_reports(ids: Iterable[int]) -> list[Report]:
    """The reports ``ids``, locked ``FOR UPDATE`` in id order (no deadlock between writers)
    until the current transaction ends. Must run inside ``transaction.atomic``."""
    from .models import Report

    return list(Report.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk"))


def accumulate(
    definition: Definition,
    records: Iterable[tuple[str, Mapping[str, Any]]],
    states: dict[str, GroupState],
) -> list[str]:
    """Add ``(record id, record)`` pairs to ``states`` (group key → state); the ids counted
    (those the filters keep)."""
    counted = []
    for record_id, record in records:
        part = contribution(definition, record)
        if part is None:
            continue
        key = group_hash(part.group)
        state = states.get(key)
        if state is None:
            state = states[key] = GroupState(part.group)
        state.add(definition, part)
        counted.append(record_id)
    return counted


def _new_row(report: Report, key: str, state: GroupState, merged: State) -> ReportRow:
    from .models import ReportRow

    texts = [group_text(v) for v in state.group] + [None] * 4
    return ReportRow(
        report=report,
        key=key,
        values=list(state.group),
        g0=texts[0],
        g1=texts[1],
        g2=texts[2],
        g3=texts[3],
        sort=sort_key(state.group),
        records=state.records,
        state=merged,
    )


def _distinct_added(report: Report, states: Mapping[str, GroupState]) -> dict[str, dict[str, int]]:
    """Store the batch's distinct values; per group key and alias, how many were new."""
    from .models import ReportDistinct

    added: dict[str, dict[str, int]] = {}
    wanted: dict[tuple[str, str, str], int] = {}
    for key, state in states.items():
        for alias, values in state.values.items():
            for identity_text, n in values.items():
                spot = (key, alias, value_hash(identity_text))
                wanted[spot] = wanted.get(spot, 0) + n
    if not wanted:
        return added
    existing: dict[tuple[str, str, str], ReportDistinct] = {}
    spots = list(wanted)
    for part in _chunks(spots, 300):
        query = ReportDistinct.objects.filter(
            report=report,
            key__in={s[0] for s in part},
            alias__in={s[1] for s in part},
            value__in={s[2] for s in part},
        )
        for row in query:
            if (row.key, row.alias, row.value) in wanted:
                existing[(row.key, row.alias, row.value)] = row
    fresh = []
    for spot, n in wanted.items():
        known = existing.get(spot)
        if known is None:
            fresh.append(
                ReportDistinct(report=report, key=spot[0], alias=spot[1], value=spot[2], records=n)
            )
            per_alias = added.setdefault(spot[0], {})
            per_alias[spot[1]] = per_alias.get(spot[1], 0) + 1
        else:
            known.records += n
    ReportDistinct.objects.bulk_update(list(existing.values()), ["records"], batch_size=CHUNK)
    ReportDistinct.objects.bulk_create(fresh, batch_size=CHUNK)
    return added


def apply_records(
    report: Report, definition: Definition, records: Sequence[tuple[str, Mapping[str, Any]]]
) -> int:
    """Count the records not counted yet in ``report`` (locked by the caller); how many.

    A record id seen before (an earlier delivery, a rebuild, twice in this batch) is skipped:
    its mark in ``AppliedRecord`` is what says it is counted.
    """
    from .models import AppliedRecord, ReportRow

    unique: dict[str, Mapping[str, Any]] = {}
    for record_id, record in records:
        unique.setdefault(record_id, record)
    ids = list(unique)
    done: set[str] = set()
    for part in _chunks(ids):
        done.update(
            AppliedRecord.objects.filter(report=report, record_id__in=part).values_list(
                "record_id", flat=True
            )
        )
    states: dict[str, GroupState] = {}
    counted = accumulate(definition, ((i, unique[i]) for i in ids if i not in done), states)
    if not counted:
        return 0
    AppliedRecord.objects.bulk_create(
        [AppliedRecord(report=report, record_id=i) for i in counted], batch_size=CHUNK
    )
    added = _distinct_added(report, states)
    rows: dict[str, ReportRow] = {}
    keys = list(states)
    for part in _chunks(keys):
        rows.update((r.key, r) for r in ReportRow.objects.filter(report=report, key__in=part))
    fresh = []
    for key, state in states.items():
        row = rows.get(key)
        if row is None:
            fresh.append(
                _new_row(report, key, state, merge(definition, {}, state.state, added.get(key, {})))
            )
        else:
            row.state = merge(definition, row.state, state.state, added.get(key, {}))
            row.records += state.records
    ReportRow.objects.bulk_update(list(rows.values()), ["state", "records"], batch_size=CHUNK)
    ReportRow.objects.bulk_create(fresh, batch_size=CHUNK)
    report.records += len(counted)
    report.groups += len(fresh)
    report.version += 1
    report.applied_at = timezone.now()
    report.save(update_fields=["records", "groups", "version", "applied_at"])
    return len(counted)


def clear(report: Report) -> None:
    """Delete every aggregate row, distinct value and mark of ``report`` (locked)."""
    from .models import AppliedRecord, ReportDistinct, ReportRow

    ReportRow.objects.filter(report=report).delete()
    ReportDistinct.objects.filter(report=report).delete()
    AppliedRecord.objects.filter(report=report).delete()


def write_all(report: Report, definition: Definition, states: Mapping[str, GroupState]) -> None:
    """Write a rebuild's states as ``report``'s rows and distinct values (after :func:`clear`)."""
    from .models import ReportDistinct, ReportRow

    rows = []
    distinct: list[ReportDistinct] = []
    for key, state in states.items():
        counts = {alias: len(values) for alias, values in state.values.items()}
        rows.append(_new_row(report, key, state, merge(definition, {}, state.state, counts)))
        for alias, values in state.values.items():
            distinct.extend(
                ReportDistinct(report=report, key=key, alias=alias, value=value_hash(v), records=n)
                for v, n in values.items()
            )
    ReportRow.objects.bulk_create(rows, batch_size=CHUNK)
    ReportDistinct.objects.bulk_create(distinct, batch_size=CHUNK)


def mark(report: Report, record_ids: Sequence[str]) -> None:
    """Record ``record_ids`` as counted in ``report``."""
    from .models import AppliedRecord

    AppliedRecord.objects.bulk_create(
        [AppliedRecord(report=report, record_id=i) for i in record_ids], batch_size=CHUNK
    )
