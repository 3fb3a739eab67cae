"""The Python facade end to end, in process on SQLite (the release's contract suite).

No relative imports and no servers: release verification runs this file against the built
wheel with only the ``[testing]`` extra and pytest.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from trellis import blobs, forms

pytestmark = pytest.mark.django_db

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["household_id", "household_size"],
    "properties": {
        "household_id": {"type": "string"},
        "village": {"type": "string"},
        "household_size": {"type": "integer", "minimum": 1},
        "moved_away": {"type": "boolean"},
    },
}
RULES = [
    {
        "case_type": "household",
        "case_id": "/household_id",
        "action": "upsert",
        "properties": {"village": "/village", "size": "/household_size"},
        "close_when": "/moved_away",
    }
]


@pytest.fixture(autouse=True)
def blob_store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(tmp_path / "facade-blobs"))


def test_the_facade_from_domain_to_events(django_user_model: Any) -> None:
    from trellis.events.models import OutboxEvent
    from trellis.forms.models import Submission

    assert not forms.domain_exists("facade")
    forms.domain_create(name="facade", title="Facade")
    assert forms.domain_exists("facade") and not forms.domain_exists("Not valid")
    user = django_user_model.objects.create_user("worker")
    forms.member_add(domain="facade", user=user)
    key = forms.api_key_create(user=user, name="device")
    assert key.authorization.startswith("ApiKey worker:")
    forms.form_define(domain="facade", name="visit", version=1, schema=SCHEMA, case_rules=RULES)

    data = {"household_id": "hh-7", "village": "Kobo", "household_size": 3}
    photo = forms.Attachment("photo", b"\x89PNG...", "image/png")
    result = forms.submit(
        domain="facade",
        form="visit",
        submission_id="uuid:1",
        data=data,
        attachments=[photo],
        user=user,
    )
    assert (result.created, result.status, result.form_version) == (True, 201, 1)
    assert result.cases == [{"case_id": "hh-7", "case_type": "household", "action": "create"}]
    [attachment] = result.attachments
    assert blobs.read_bytes(attachment["key"]) == b"\x89PNG..."

    again = forms.submit(
        domain="facade", form="visit", submission_id="uuid:1", data=data, attachments=[photo]
    )
    assert (again.created, again.status, again.as_dict()) == (False, 200, result.as_dict())
    with pytest.raises(forms.SubmissionConflict):
        forms.submit(domain="facade", form="visit", submission_id="uuid:1", data={**data, "x": 1})

    submitted = json.loads(OutboxEvent.objects.get(topic="form.submitted").payload)
    assert submitted == forms.submission_payload(Submission.objects.get())
    assert submitted["user"] == "worker"
    assert submitted["attachments"] == result.attachments
    assert submitted["received_at"] == result.received_at
    changed = json.loads(OutboxEvent.objects.get(topic="case.changed").payload)
    assert {k: changed[k] for k in ("domain", "case_id", "action", "properties", "closed")} == {
        "domain": "facade",
        "case_id": "hh-7",
        "action": "create",
        "properties": {"village": "Kobo", "size": 3},
        "closed": False,
    }
    with pytest.raises(forms.ValidationFailed) as caught:
        forms.submit(
            domain="facade", form="visit", submission_id="uuid:2", data={"household_size": 0}
        )
    assert [(e.field, e.rule) for e in caught.value.errors] == [
        ("/data", "required"),
        ("/data/household_size", "minimum"),
    ]
