"""Writing aggregate state under the report's row lock: incremental batches and rebuilds."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ._aggregates import (
    GroupState,
    State,
    combine,
    contribution,
    from_parts,
    merge,
    stored_parts,
)
from ._types import Definition
from ._values import decimal_text, group_hash, group_text, sort_key

if TYPE_CHECKING:
    from .models import AppliedRecord, Report, ReportDistinct, ReportRow

log = logging.getLogger("trellis.reports")

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


Mark = tuple[str, int, str | None, dict[str, Any] | None]
"""What an ``AppliedRecord`` keeps: record id, revision, group key and
:func:`~trellis.reports._aggregates.stored_parts` (key and parts ``None``: left out by the
filters)."""


def accumulate(
    definition: Definition,
    records: Iterable[tuple[str, int, Mapping[str, Any]]],
    states: dict[str, GroupState],
    *,
    keep_excluded: bool = False,
) -> list[Mark]:
    """Add ``(record id, revision, record)`` triples to ``states`` (group key → state); the
    marks of the records counted (those the filters keep), and with ``keep_excluded`` of the
    others too (a revised source marks them, so an older revision arriving late is known)."""
    marks: list[Mark] = []
    for record_id, revision, record in records:
        part = contribution(definition, record)
        if part is None:
            if keep_excluded:
                marks.append((record_id, revision, None, None))
            continue
        key = group_hash(part.group)
        state = states.get(key)
        if state is None:
            state = states[key] = GroupState(part.group)
        state.add(definition, part)
        marks.append((record_id, revision, key, stored_parts(definition, part)))
    return marks


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


def _distinct_changed(
    report: Report, net: Mapping[tuple[str, str, str], int]
) -> tuple[dict[str, dict[str, int]], bool]:
    """Add ``net`` (group key, alias, value hash → records gained, negative when lost) to the
    distinct values; per group key and alias, by how many the distinct count changed; and
    whether the stored values disagreed with ``net`` (a value lost that was not there)."""
    from .models import ReportDistinct

    delta: dict[str, dict[str, int]] = {}
    wanted = {spot: n for spot, n in net.items() if n}
    if not wanted:
        return delta, False
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
    fresh, changed, gone = [], [], []
    odd = False
    for spot, n in wanted.items():
        known = existing.get(spot)
        per_alias = delta.setdefault(spot[0], {})
        if known is None:
            if n < 0:
                odd = True
                continue
            fresh.append(
                ReportDistinct(report=report, key=spot[0], alias=spot[1], value=spot[2], records=n)
            )
            per_alias[spot[1]] = per_alias.get(spot[1], 0) + 1
        else:
            known.records += n
            if known.records > 0:
                changed.append(known)
            else:
                odd = odd or known.records < 0
                gone.append(known.pk)
                per_alias[spot[1]] = per_alias.get(spot[1], 0) - 1
    ReportDistinct.objects.bulk_update(changed, ["records"], batch_size=CHUNK)
    ReportDistinct.objects.bulk_create(fresh, batch_size=CHUNK)
    for ids in _chunks(gone):
        ReportDistinct.objects.filter(pk__in=ids).delete()
    return delta, odd


def _recompute_extremes(
    report: Report, definition: Definition, key: str, aliases: Sequence[str], state: State
) -> None:
    """Set the min/max ``aliases`` of group ``key`` in ``state`` from the stored parts of the
    group's marks (after this batch's marks are written)."""
    from .models import AppliedRecord

    fns = {a.alias: a.fn for a in definition.aggregates}
    best: dict[str, Decimal | None] = dict.fromkeys(aliases)
    parts = AppliedRecord.objects.filter(report=report, key=key).values_list("parts", flat=True)
    for stored in parts.iterator(chunk_size=2000):
        if not isinstance(stored, dict):
            continue
        for alias in aliases:
            text = stored.get(alias)
            if text is None:
                continue
            value = Decimal(text)
            current = best[alias]
            if current is None or (value < current if fns[alias] == "min" else value > current):
                best[alias] = value
    for alias, found in best.items():
        state[alias] = {"v": None if found is None else decimal_text(found)}


def apply_records(
    report: Report,
    definition: Definition,
    records: Sequence[tuple[str, int, Mapping[str, Any]]],
    *,
    revised: bool = False,
) -> int:
    """Count ``(record id, revision, record)`` triples in ``report`` (locked by the caller);
    how many records were counted or replaced.

    Without ``revised`` (a source without a revision field), a record id seen before (an
    earlier delivery, a rebuild, twice in this batch) is skipped: its mark in
    ``AppliedRecord`` says it is counted. With ``revised``, each id's highest revision in the
    batch is taken; one whose mark has a lower revision replaces what that revision
    contributed (taken back exactly from the mark's stored parts), one whose mark has an equal
    or higher revision is skipped; records the filters leave out are marked too.
    """
    from .models import AppliedRecord, ReportDistinct, ReportRow

    unique: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for record_id, revision, record in records:
        known = unique.get(record_id)
        if known is None or revision > known[0]:
            unique[record_id] = (revision, record)
    ids = list(unique)
    marked: dict[str, AppliedRecord] = {}
    if revised:
        for part in _chunks(ids):
            marked.update(
                (m.record_id, m)
                for m in AppliedRecord.objects.filter(report=report, record_id__in=part)
            )
    else:
        for part in _chunks(ids):
            done = AppliedRecord.objects.filter(report=report, record_id__in=part)
            marked.update((i, AppliedRecord()) for i in done.values_list("record_id", flat=True))
    todo: list[tuple[str, int, Mapping[str, Any]]] = []
    replaced: list[AppliedRecord] = []
    unknown: list[AppliedRecord] = []
    for record_id in ids:
        revision, record = unique[record_id]
        old = marked.get(record_id)
        if old is not None:
            if not revised or (old.revision or 1) >= revision:
                continue  # counted already: a redelivery, or an older revision arriving late
            if old.revision is None:
                # Marked before contributions were kept: what it added is unknown.
                old.revision = revision
                unknown.append(old)
                continue
            replaced.append(old)
        todo.append((record_id, revision, record))
    states: dict[str, GroupState] = {}
    marks = accumulate(definition, todo, states, keep_excluded=revised)
    removed: dict[str, GroupState] = {}
    stale = bool(unknown)
    for old in replaced:
        if old.key is None:
            continue  # the filters left it out: it added nothing
        taken = from_parts(definition, old.parts)
        if taken is None:
            stale = True  # parts that do not fit the definition: cannot be taken back
            continue
        state = removed.get(old.key)
        if state is None:
            state = removed[old.key] = GroupState(())
        state.add(definition, taken)
    # The marks first: recomputing a min or max reads the group's marks as they now are.
    new = {m[0]: m for m in marks}
    updated = []
    for old in replaced:
        _, old.revision, old.key, old.parts = new[old.record_id]
        updated.append(old)
    updated.extend(unknown)  # only their revision changes: what they added stays unknown
    AppliedRecord.objects.bulk_update(updated, ["revision", "key", "parts"], batch_size=CHUNK)
    mark(report, [m for m in marks if m[0] not in marked])
    if not states and not removed:
        if stale:
            _needs_rebuild(report)
        return 0
    net: dict[tuple[str, str, str], int] = {}
    for sign, group_states in ((1, states), (-1, removed)):
        for key, state in group_states.items():
            for alias, values in state.values.items():
                for value, n in values.items():
                    spot = (key, alias, value)
                    net[spot] = net.get(spot, 0) + sign * n
    distinct_delta, odd = _distinct_changed(report, net)
    stale = stale or odd
    rows: dict[str, ReportRow] = {}
    keys = list(dict.fromkeys([*states, *removed]))
    for part in _chunks(keys):
        rows.update((r.key, r) for r in ReportRow.objects.filter(report=report, key__in=part))
    fresh, changed, emptied = [], [], []
    recompute: list[tuple[ReportRow, list[str]]] = []
    records_delta = 0
    for key in keys:
        row = rows.get(key)
        plus, minus = states.get(key), removed.get(key)
        records_delta += (plus.records if plus else 0) - (minus.records if minus else 0)
        if row is None:
            stale = stale or minus is not None
            if plus is not None:
                fresh.append(
                    _new_row(
                        report,
                        key,
                        plus,
                        merge(definition, {}, plus.state, distinct_delta.get(key, {})),
                    )
                )
            continue
        row.records += (plus.records if plus else 0) - (minus.records if minus else 0)
        if row.records <= 0:
            stale = stale or row.records < 0
            emptied.append(row)
            continue
        row.state, aliases = combine(
            definition,
            row.state,
            plus.state if plus else {},
            minus.state if minus else {},
            distinct_delta.get(key, {}),
        )
        if aliases:
            recompute.append((row, aliases))
        changed.append(row)
    if recompute and AppliedRecord.objects.filter(report=report, revision__isnull=True).exists():
        stale = True  # marks of unknown group and parts: the recomputed extremes may miss them
    for row, aliases in recompute:
        _recompute_extremes(report, definition, row.key, aliases, row.state)
    ReportRow.objects.bulk_update(changed, ["state", "records"], batch_size=CHUNK)
    ReportRow.objects.bulk_create(fresh, batch_size=CHUNK)
    if emptied:
        gone = [row.key for row in emptied]
        for part in _chunks(gone):
            ReportRow.objects.filter(report=report, key__in=part).delete()
            ReportDistinct.objects.filter(report=report, key__in=part).delete()
    report.records += records_delta
    report.groups += len(fresh) - len(emptied)
    report.version += 1
    report.applied_at = timezone.now()
    fields = ["records", "groups", "version", "applied_at"]
    if stale and not report.needs_rebuild:
        _log_stale(report)
        report.needs_rebuild = True
        fields.append("needs_rebuild")
    report.save(update_fields=fields)
    return len(todo) - sum(1 for m in marks if m[2] is None)


def _log_stale(report: Report) -> None:
    log.warning(
        "report %s: a revised record's earlier contribution is not known (marked before "
        "revisions were kept, or the stored numbers disagree); it needs a rebuild",
        report,
    )


def _needs_rebuild(report: Report) -> None:
    """Flag ``report`` (locked) for a rebuild: its numbers may be off (logged)."""
    if report.needs_rebuild:
        return
    _log_stale(report)
    report.needs_rebuild = True
    report.version += 1
    report.save(update_fields=["needs_rebuild", "version"])


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
                ReportDistinct(report=report, key=key, alias=alias, value=v, records=n)
                for v, n in values.items()
            )
    ReportRow.objects.bulk_create(rows, batch_size=CHUNK)
    ReportDistinct.objects.bulk_create(distinct, batch_size=CHUNK)


def mark(report: Report, marks: Sequence[Mark]) -> None:
    """Record ``marks`` (id, revision, group key, parts) as counted in ``report``."""
    from .models import AppliedRecord

    AppliedRecord.objects.bulk_create(
        [
            AppliedRecord(report=report, record_id=i, revision=r, key=k, parts=p)
            for i, r, k, p in marks
        ],
        batch_size=CHUNK,
    )
