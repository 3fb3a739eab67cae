"""Concurrent submissions on PostgreSQL (the scaled profile): two threads, two connections.

Both threads pass the "already received?" check before either writes (a barrier holds them
there), so the unique constraint decides: identical bodies give one 201 and one 200 with the
same answer, different bodies one 201 and one conflict; two new submissions creating the same
case give one create and one update (the loser retries). Nothing of a loser remains.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres

SCRIPT = """
import json
import threading

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from trellis import forms
from trellis.forms import _receiving
from trellis.forms.models import Case, CaseChange, Submission
from trellis.events.models import OutboxEvent
from trellis.blobs.models import BlobMeta

call_command("migrate", verbosity=0)
forms.domain_create(name="demo")
schema = {"type": "object", "properties": {"hh": {"type": "string"}, "n": {"type": "integer"}}}
rules = [{"case_type": "household", "case_id": "/hh", "action": "upsert",
          "properties": {"n": "/n"}}]
forms.form_define(domain="demo", name="visit", version=1, schema=schema, case_rules=rules)

original = _receiving._existing
state = threading.local()
barrier = threading.Barrier(2, timeout=30)

def held(*args, **kwargs):
    found = original(*args, **kwargs)
    if not getattr(state, "passed", False):
        state.passed = True
        barrier.wait()  # both threads have looked and found nothing
    return found

_receiving._existing = held

def race(first, second):
    answers = [None, None]
    def run(index, kwargs):
        state.passed = False
        try:
            result = forms.submit(domain="demo", form="visit", **kwargs)
            answers[index] = {"created": result.created, "body": result.as_dict()}
        except forms.FormsError as exc:
            answers[index] = {"error": exc.code}
        finally:
            connection.close()
    threads = [threading.Thread(target=run, args=(i, kw)) for i, kw in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers

photo = [forms.Attachment("photo", b"same bytes", "image/jpeg")]
result = {}
result["identical"] = race(
    {"submission_id": "s-1", "data": {"hh": "h1", "n": 1}, "attachments": photo},
    {"submission_id": "s-1", "data": {"hh": "h1", "n": 1}, "attachments": photo},
)
result["different"] = race(
    {"submission_id": "s-2", "data": {"hh": "h1", "n": 2}},
    {"submission_id": "s-2", "data": {"hh": "h1", "n": 3}},
)
result["same_case"] = race(
    {"submission_id": "s-3", "data": {"hh": "h9", "n": 1}},
    {"submission_id": "s-4", "data": {"hh": "h9", "n": 2}},
)
result["submissions"] = sorted(Submission.objects.values_list("submission_id", flat=True))
changes = CaseChange.objects.filter(case__case_id="h9")
result["changes"] = sorted(changes.values_list("action", flat=True))
result["cases"] = Case.objects.count()
result["events"] = OutboxEvent.objects.filter(topic="form.submitted").count()
result["blobs"] = BlobMeta.objects.count()
print(json.dumps(result))
"""


def test_concurrent_submissions_on_postgresql(run_on_postgres, tmp_path) -> None:
    result = run_on_postgres(SCRIPT)
    first, second = result["identical"]
    assert sorted([first["created"], second["created"]]) == [False, True], result
    assert first["body"] == second["body"]
    assert len(first["body"]["attachments"]) == 1
    refused = [a for a in result["different"] if "error" in a]
    stored = [a for a in result["different"] if "body" in a]
    assert refused == [{"error": "conflict"}], result["different"]
    assert [a["created"] for a in stored] == [True]
    assert [a.get("created") for a in result["same_case"]] == [True, True], result
    assert result["changes"] == ["create", "update"]
    assert result["submissions"] == ["s-1", "s-2", "s-3", "s-4"]
    assert result["cases"] == 2
    assert result["events"] == 4
    assert result["blobs"] == 1
    content = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(content) == 1 and content[0].read_bytes() == b"same bytes"
