"""The event payloads have exactly the fields of the spec (shared-docs/forms.md)."""

from __future__ import annotations

import json
import re

import pytest

from trellis import forms
from trellis.events.models import OutboxEvent
from trellis.forms.models import CaseChange, Submission

pytestmark = pytest.mark.django_db
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def test_payload_fields_keys_and_times(demo) -> None:
    forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="uuid:9",
        data={"household_id": "hh-9", "village": "K", "household_size": 2, "moved_away": True},
        attachments=[forms.Attachment("photo", b"img", "image/png")],
        user=demo.user,
    )
    submitted = OutboxEvent.objects.get(topic="form.submitted")
    assert submitted.key == "demo:uuid:9"
    payload = json.loads(submitted.payload)
    assert set(payload) == {
        "domain", "form", "form_version", "submission_id", "revision", "received_at", "user",
        "data", "attachments", "cases",
    }  # fmt: skip
    assert payload["revision"] == 1
    assert ISO.fullmatch(payload["received_at"])
    assert payload["user"] == "ada"
    assert set(payload["attachments"][0]) == {"name", "key", "content_type", "length", "sha256"}
    assert payload["cases"] == [{"case_id": "hh-9", "case_type": "household", "action": "create"}]
    assert payload == forms.submission_payload(Submission.objects.get())

    changed = OutboxEvent.objects.get(topic="case.changed")
    assert changed.key == "demo:hh-9"
    change = json.loads(changed.payload)
    assert set(change) == {
        "domain", "case_id", "case_type", "action", "change_id", "submission_id", "changed_at",
        "properties", "changed", "closed",
    }  # fmt: skip
    assert ISO.fullmatch(change["changed_at"])
    assert (change["action"], change["closed"]) == ("create", True)  # created closed: a create
    assert change == forms.case_change_payload(CaseChange.objects.get())
