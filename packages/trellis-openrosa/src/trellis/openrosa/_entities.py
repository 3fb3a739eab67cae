"""Entity lists: the cases a form updates, served to field clients as the form's CSV media.

An XLSForm that updates ODK entities (``entity_id`` in its ``entities`` sheet) reads the list
from ``jr://file-csv/<list>.csv``, which clients download through the manifest like any media
file (ODK Central serves its entity lists the same way). Here the list is the domain's open
cases of that type: ``name`` (the case id), ``label``, ``__version`` (how many changes the
case has had) and one column per case property. It is built when asked for, so it is always
the current state; an uploaded media file of the same name takes precedence.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import TYPE_CHECKING, Any

from django.db.models import Count

if TYPE_CHECKING:
    from .models import XForm

RESERVED = ("name", "label", "__version")


def entity_lists(xform: XForm) -> dict[str, str]:
    """Media name → case type, for the entity lists the form reads and has no upload for."""
    types = {rule["case_type"] for rule in xform.definition.case_rules}
    uploaded = {m.name for m in xform.media.all()}
    return {
        name: case_type
        for case_type in sorted(types)
        if (name := f"{case_type}.csv") in xform.media_names and name not in uploaded
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def entity_csv(domain: Any, case_type: str) -> bytes:
    """The open cases of ``case_type`` in ``domain`` as an entity list CSV (UTF-8)."""
    from trellis.forms.models import Case

    cases = (
        Case.objects.filter(domain=domain, case_type=case_type, closed=False)
        .annotate(version=Count("changes"))
        .order_by("case_id")
    )
    rows = list(cases)
    names = sorted({k for case in rows for k in case.properties if k not in RESERVED})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*RESERVED, *names])
    for case in rows:
        label = _text(case.properties.get("label")) or case.case_id
        writer.writerow(
            [case.case_id, label, case.version, *(_text(case.properties.get(n)) for n in names)]
        )
    return out.getvalue().encode("utf-8")


def md5(content: bytes) -> str:
    return hashlib.md5(content, usedforsecurity=False).hexdigest()
