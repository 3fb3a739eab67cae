"""The event payloads and API bodies, built from stored rows only.

:func:`submission_payload` is THE builder of ``form.submitted`` payloads: ``submit`` publishes
what it returns and the reports source reads it for rebuilds, so both see identical records.
:func:`case_change_payload` is the same for ``case.changed`` (and the case history API).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import CaseChange, Submission


CASE_KEYS = ("case_id", "case_type", "action")
ATTACHMENT_KEYS = ("name", "key", "content_type", "length", "sha256")


def _ordered(items: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Stored objects with their keys in the documented order (PostgreSQL's jsonb sorts them),
    so that a resend's answer is byte for byte the first one."""
    return [
        {**{k: item[k] for k in keys if k in item}, **{k: item[k] for k in item if k not in keys}}
        for item in items
    ]


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and ``Z``: ``2026-12-07T02:36:27.000123Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def submission_payload(submission: Submission) -> dict[str, Any]:
    """The ``form.submitted`` payload of a stored submission (see shared-docs/forms.md)."""
    return {
        "domain": submission.domain.name,
        "form": submission.form_name,
        "form_version": submission.form_version,
        "submission_id": submission.submission_id,
        "revision": submission.revision,
        "received_at": iso(submission.received_at),
        "user": submission.username or None,
        "data": submission.data,
        "attachments": _ordered(submission.attachments, ATTACHMENT_KEYS),
        "cases": _ordered(submission.cases, CASE_KEYS),
    }


def submission_result(submission: Submission) -> dict[str, Any]:
    """The receiver's answer for a stored submission (the same for every identical resend)."""
    return {
        "id": submission.submission_id,
        "form": submission.form_name,
        "form_version": submission.form_version,
        "received_at": iso(submission.received_at),
        "cases": _ordered(submission.cases, CASE_KEYS),
        "attachments": _ordered(submission.attachments, ATTACHMENT_KEYS),
    }


def case_change_payload(change: CaseChange) -> dict[str, Any]:
    """The ``case.changed`` payload of a stored case change (see shared-docs/forms.md)."""
    case = change.case
    return {
        "domain": case.domain.name,
        "case_id": case.case_id,
        "case_type": case.case_type,
        "action": change.action,
        "change_id": change.change_id,
        "submission_id": change.submission.submission_id,
        "changed_at": iso(change.changed_at),
        "properties": dict(change.properties),
        "changed": list(change.changed),
        "closed": change.closed,
    }
