"""Submissions and case changes as trellis-reports sources (plugin ``forms-reports``).

A plugin of its own (entry point ``forms-reports``) so trellis-forms needs nothing from
trellis-reports: its hook implementations are ``optionalhook``, so without trellis-reports
installed this plugin loads and contributes nothing; ``trellis.reports`` is imported only
when the hooks are called. Records are built by the same functions as the event payloads
(:func:`trellis.forms.submission_payload`, :func:`trellis.forms.case_change_payload`), so a
rebuild sees exactly what incremental processing saw.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trellis.core import hookimpl

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

TRELLIS_IMPLEMENTS = {"reports": ">=1.1,<2"}
BATCH = 500


def submission_records(domain: str) -> Iterator[Mapping[str, Any]]:
    """Every ``form.submitted`` payload of ``domain``, in the order received: each
    submission's current revision (an edit replaced the earlier ones)."""
    from ._payloads import submission_payload
    from .selectors import submissions_of

    for submission in submissions_of(domain).iterator(chunk_size=BATCH):
        yield submission_payload(submission)


def case_change_records(domain: str) -> Iterator[Mapping[str, Any]]:
    """Every ``case.changed`` payload of ``domain``, oldest first."""
    from ._payloads import case_change_payload
    from .models import CaseChange

    changes = (
        CaseChange.objects.filter(case__domain__name=domain)
        .select_related("case__domain", "submission")
        .order_by("id")
    )
    for change in changes.iterator(chunk_size=BATCH):
        yield case_change_payload(change)


@hookimpl(optionalhook=True)
def reports_sources() -> Sequence[Any]:
    Source: Any = importlib.import_module("trellis.reports").Source

    return [
        Source(
            topic="form.submitted",
            id_field="submission_id",
            revision_field="revision",  # an edit replaces what the record counted
            records=submission_records,
            description="Form submissions (trellis-forms)",
        ),
        Source(
            topic="case.changed",
            id_field="change_id",
            records=case_change_records,
            description="Case changes (trellis-forms)",
        ),
    ]


@hookimpl(optionalhook=True)
def reports_can_view(user: AbstractBaseUser | AnonymousUser, domain: str) -> bool | None:
    """Active members of ``domain`` may view its reports; otherwise not ours to decide."""
    from .selectors import is_member

    return True if is_member(user, domain) else None
