"""The ``reports`` events processor: count each new record in the reports of its domain.

For a batch of events, the reports over their topics and domains are locked (``FOR UPDATE``,
in id order) and each gets the records it has not counted yet. The lock is what makes a
rebuild (which holds it for its whole transaction) and the processor take turns; the
``AppliedRecord`` marks are what make a redelivered record, or one a rebuild already counted,
count once. For a source with a ``revision_field``, a mark also holds the revision counted
and what it contributed, so a newer revision replaces it exactly and an older one is ignored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q

from trellis.events import Event, Processor

from ._definitions import validate_definition
from ._errors import DefinitionError
from ._registry import sources
from ._store import apply_records, locked_reports
from ._types import Source

log = logging.getLogger("trellis.reports")

PROCESSOR = "reports"
BATCH_SIZE = 500
MAX_RECORD_ID = 200
MAX_REVISION = 2**63 - 1


def record_id(source: Source, record: Mapping[str, Any]) -> str | None:
    """The record's id (its ``source.id_field``) as text, or ``None`` when it has none.

    Ids longer than 200 characters are kept as ``sha256:<hex>`` of the text.
    """
    value = record.get(source.id_field)
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if not text:
        return None
    if len(text) > MAX_RECORD_ID:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


def record_revision(source: Source, record: Mapping[str, Any]) -> int | None:
    """The record's revision (its ``source.revision_field``): 1 for a source without one;
    ``None`` when the field is missing or not an integer from 1 to 2**63 - 1 (callers take
    it as 1)."""
    if source.revision_field is None:
        return 1
    value = record.get(source.revision_field)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_REVISION:
        return value
    return None


def processor_topics() -> list[str]:
    """Topics the processor handles: those with a Source that an events plugin declares."""
    found = sources()
    if not found:
        return []
    from trellis.events import topics

    declared = topics()
    return sorted(topic for topic in found if topic in declared)


def handle_events(events: Sequence[Event]) -> None:
    """The processor's handler: count the events' records in their reports.

    Records without a ``domain`` string or without an id are skipped (logged): they cannot
    be attributed or de-duplicated, and a rebuild skips them the same way. A record of a
    revised source without a valid revision is taken as revision 1 (logged).
    """
    known = sources()
    batches: dict[tuple[str, str], list[tuple[str, int, Mapping[str, Any]]]] = {}
    for event in events:
        source = known.get(event.topic)
        payload = event.payload
        if source is None or not isinstance(payload, Mapping):
            continue
        domain = payload.get("domain")
        rid = record_id(source, payload)
        if not isinstance(domain, str) or rid is None:
            log.warning(
                "event %s (%s): no domain or %r in the payload; not counted in any report",
                event.id,
                event.topic,
                source.id_field,
            )
            continue
        revision = record_revision(source, payload)
        if revision is None:
            log.warning(
                "event %s (%s): %r is not a positive integer revision (%r); taken as 1",
                event.id,
                event.topic,
                source.revision_field,
                payload.get(source.revision_field or ""),
            )
            revision = 1
        batches.setdefault((event.topic, domain), []).append((rid, revision, payload))
    if not batches:
        return
    from .models import Report

    wanted = Q(pk__in=[])
    for topic, domain in batches:
        wanted |= Q(source_topic=topic, domain=domain)
    with transaction.atomic():
        ids = list(Report.objects.filter(wanted).values_list("pk", flat=True))
        for report in locked_reports(ids):
            records = batches.get((report.source_topic, report.domain))
            if not records:
                continue  # its source topic changed before the lock was taken
            try:
                definition = validate_definition(report.definition_data(), topics=known)
            except DefinitionError as exc:
                log.error("report %s has an invalid definition; not updated: %s", report, exc)
                continue
            source = known[report.source_topic]
            apply_records(report, definition, records, revised=source.revision_field is not None)


def processor() -> Processor:
    """The ``reports`` processor over :func:`processor_topics` (call only when there are some)."""
    return Processor(PROCESSOR, processor_topics(), handle_events, batch_size=BATCH_SIZE)
