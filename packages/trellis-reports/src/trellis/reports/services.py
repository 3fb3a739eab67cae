"""Writes: define (or change) a report, delete one, rebuild its numbers from the raw records.

Keyword-only and typed; they import the models when called, so ``trellis.reports`` imports
before Django is set up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ._aggregates import GroupState
from ._definitions import check_domain, check_slug, definition_data, validate_definition
from ._errors import DefinitionError, Problem, UnknownReport, UnknownSource
from ._processing import record_id, record_revision
from ._registry import sources
from ._store import CHUNK, accumulate, clear, locked_reports, mark, write_all
from ._types import Source

if TYPE_CHECKING:
    from .models import Report

log = logging.getLogger("trellis.reports")

DATA_FIELDS = ("source_topic", "filters", "group_by", "aggregates")
"""Definition parts the numbers depend on: changing one empties the report until rebuilt."""

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RebuildResult:
    """What :func:`report_rebuild` did.

    :param read: records the source yielded for the domain.
    :param counted: records counted (those the filters keep, each id once).
    :param groups: aggregate rows written.
    """

    domain: str
    slug: str
    read: int
    counted: int
    groups: int
    seconds: float


def _title(title: object) -> str:
    if not isinstance(title, str) or not title.strip() or len(title) > 200 or "\x00" in title:
        raise DefinitionError(
            [
                Problem(
                    "title",
                    f"{title!r:.80} is not a title: 1 to 200 characters, no NUL characters",
                )
            ]
        )
    return title.strip()


def _listed(value: Any) -> Any:
    """``value`` as a list for validation; a string or mapping is left for it to refuse."""
    if isinstance(value, str | bytes | Mapping):
        return value
    try:
        return list(value)
    except TypeError:
        return value


def report_define(
    *,
    domain: str,
    slug: str,
    title: str,
    source_topic: str,
    aggregates: Sequence[Mapping[str, Any]],
    filters: Sequence[Mapping[str, Any]] = (),
    group_by: Sequence[Mapping[str, Any]] = (),
    chart: Mapping[str, Any] | None = None,
) -> Report:
    """Create the report ``domain``/``slug``, or change it; return it.

    The definition is validated first (:func:`~trellis.reports.validate_definition`). A new
    report, or a change of its source topic, filters, group columns or aggregates, leaves it
    empty and ``needs_rebuild`` until :func:`report_rebuild` runs (the processor only counts
    new records) — unless, checked after the commit, the source has no record of the domain
    yet; a change of only the title or the chart keeps the numbers.

    The returned object is as saved; the after-commit check updates the row, not it.

    :raises DefinitionError: naming the path of every fault.
    """
    from .models import Report

    check_domain(domain)
    check_slug(slug)
    title = _title(title)
    raw = {
        "source_topic": source_topic,
        "filters": _listed(filters),
        "group_by": _listed(group_by),
        "aggregates": _listed(aggregates),
        "chart": dict(chart) if chart else None,
    }
    data = definition_data(validate_definition(raw))
    now = timezone.now()
    with transaction.atomic():
        report = Report.objects.select_for_update().filter(domain=domain, slug=slug).first()
        if report is None:
            try:
                with transaction.atomic():
                    created = Report.objects.create(
                        domain=domain,
                        slug=slug,
                        title=title,
                        created_at=now,
                        updated_at=now,
                        **data,
                    )
            except IntegrityError:  # defined concurrently: change that one
                report = Report.objects.select_for_update().get(domain=domain, slug=slug)
            else:
                transaction.on_commit(partial(_settle_if_empty, created.pk, created.version))
                return created
        changed = any(getattr(report, name) != data[name] for name in DATA_FIELDS)
        if changed:
            clear(report)
            report.needs_rebuild = True
            report.records = 0
            report.groups = 0
            transaction.on_commit(partial(_settle_if_empty, report.pk, report.version + 1))
        for name, value in data.items():
            setattr(report, name, value)
        report.title = title
        report.version += 1
        report.updated_at = now
        report.save()
        return report


def _settle_if_empty(pk: int, version: int) -> None:
    """After a report's definition committed: if its source has no record of its domain yet,
    there is nothing to rebuild, so clear ``needs_rebuild``.

    Checked only after the commit, so a record committed meanwhile is either seen here (and
    the flag stays) or committed after the report, whose processor run then counts it. A
    failure only leaves the flag set (logged).
    """
    try:
        with transaction.atomic():
            found = locked_reports([pk])
            if not found or found[0].version != version or not found[0].needs_rebuild:
                return  # deleted, changed again (its own check follows) or counted meanwhile
            report = found[0]
            source = sources().get(report.source_topic)
            if source is None:
                return
            records = iter(source.records(report.domain))
            try:
                if next(records, None) is not None:
                    return
            finally:
                close = getattr(records, "close", None)
                if close is not None:
                    close()
            report.needs_rebuild = False
            report.rebuilt_at = timezone.now()
            report.version += 1
            report.save(update_fields=["needs_rebuild", "rebuilt_at", "version"])
    except Exception:
        log.exception("could not check whether report %s has records to rebuild", pk)


def report_delete(*, domain: str, slug: str) -> bool:
    """Delete a report with its rows; whether it existed."""
    from .models import Report

    deleted, _ = Report.objects.filter(domain=domain, slug=slug).delete()
    return deleted > 0


def report_rebuild(*, domain: str, slug: str, progress: Progress | None = None) -> RebuildResult:
    """Recompute the report from its source's raw records, in one transaction.

    The report row stays locked until the end, so the processor waits and then counts only
    the records this rebuild did not (each counted record is marked). The result is exactly
    what incremental processing of the same records gives, in any order. Each mark keeps the
    record's revision and contribution, as the processor's do, so a later revision replaces
    it exactly; for a source with a ``revision_field`` (which yields only the latest
    revision of each record) the records the filters leave out are marked too.

    :param progress: called with the number of records read so far, every 1000 and at the end.
    :raises UnknownReport: no such report.
    :raises UnknownSource: its topic has no source (any more).
    """
    from .models import Report

    started = time.monotonic()
    pk = Report.objects.filter(domain=domain, slug=slug).values_list("pk", flat=True).first()
    if pk is None:
        raise UnknownReport(domain, slug)
    known = sources()
    with transaction.atomic():
        [report] = locked_reports([pk])
        source = known.get(report.source_topic)
        if source is None:
            raise UnknownSource(report.source_topic, known)
        definition = validate_definition(report.definition_data(), topics=known)
        clear(report)
        states: dict[str, GroupState] = {}
        seen: set[str] = set()
        pending: list[tuple[str, int, Mapping[str, Any]]] = []
        counted = read = unrevised = 0
        for record in source.records(domain):
            read += 1
            rid = record_id(source, record) if isinstance(record, Mapping) else None
            if rid is not None and record.get("domain") == domain and rid not in seen:
                seen.add(rid)
                revision = record_revision(source, record)
                if revision is None:
                    unrevised += 1
                    revision = 1
                pending.append((rid, revision, record))
            if len(pending) >= CHUNK:
                counted += _flush(report, definition, source, pending, states)
            if progress is not None and read % 1000 == 0:
                progress(read)
        counted += _flush(report, definition, source, pending, states)
        if unrevised:
            log.warning(
                "rebuild of report %s/%s: %d record(s) without a valid %r, taken as revision 1",
                domain,
                slug,
                unrevised,
                source.revision_field,
            )
        write_all(report, definition, states)
        report.records = counted
        report.groups = len(states)
        report.needs_rebuild = False
        report.rebuilt_at = timezone.now()
        report.version += 1
        report.save(update_fields=["records", "groups", "needs_rebuild", "rebuilt_at", "version"])
    if progress is not None:
        progress(read)
    seconds = time.monotonic() - started
    log.info(
        "rebuilt report %s/%s: %d of %d records counted in %.1f s",
        domain,
        slug,
        counted,
        read,
        seconds,
    )
    return RebuildResult(domain, slug, read, counted, len(states), seconds)


def _flush(
    report: Report,
    definition: Any,
    source: Source,
    pending: list[tuple[str, int, Mapping[str, Any]]],
    states: dict[str, GroupState],
) -> int:
    marks = accumulate(definition, pending, states, keep_excluded=source.revision_field is not None)
    mark(report, marks)
    pending.clear()
    return sum(1 for m in marks if m[2] is not None)


def report_rebuild_all(
    *, domain: str | None = None, progress: Callable[[str, int], None] | None = None
) -> list[RebuildResult]:
    """Rebuild every report (of ``domain``, when given), one transaction each.

    :param progress: ``progress("domain/slug", records read)`` as :func:`report_rebuild`.
    """
    from .models import Report

    reports = Report.objects.order_by("domain", "slug")
    if domain is not None:
        reports = reports.filter(domain=domain)
    results = []
    for d, s in list(reports.values_list("domain", "slug")):
        label = f"{d}/{s}"
        step = None if progress is None else (lambda n, label=label: progress(label, n))
        results.append(report_rebuild(domain=d, slug=s, progress=step))
    return results
