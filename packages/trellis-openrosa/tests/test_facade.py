"""The package end to end, in process on SQLite (the release's contract suite).

No relative imports and no servers: release verification runs this file against the built
wheel with only the ``[testing]`` extra and pytest.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from trellis import blobs, forms, openrosa

pytestmark = pytest.mark.django_db

XLSFORM = """
| survey |
|        | type    | name    | label   |
|        | text    | village | Village |
|        | integer | people  | People  |
|        | image   | photo   | Photo   |
| settings |
|          | form_id | version |
|          | visit   | 7       |
"""


def submission(instance_id: str, village: str, deprecated: str = "") -> bytes:
    meta = f"<instanceID>{instance_id}</instanceID>"
    if deprecated:
        meta += f"<deprecatedID>{deprecated}</deprecatedID>"
    return (
        f'<data id="visit" version="7"><village>{village}</village><people>3</people>'
        f"<photo>p.jpg</photo><meta>{meta}</meta></data>"
    ).encode()


@pytest.fixture(autouse=True)
def blob_store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(tmp_path / "facade-blobs"))


def test_from_xlsform_to_submission_and_edit(django_user_model: Any) -> None:
    from trellis.forms.models import Submission

    forms.domain_create(name="facade")
    user = django_user_model.objects.create_user("worker")
    user.set_password("a pass phrase")
    user.save()
    forms.member_add(domain="facade", user=user)
    xform = openrosa.xlsform_add(domain="facade", content=XLSFORM.encode(), filename="visit.md")
    assert (xform.form_id, xform.version, xform.definition.version) == ("visit", "7", 1)

    client = Client()
    headers = {
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"worker:a pass phrase").decode(),
        "HTTP_X_OPENROSA_VERSION": "1.0",
    }
    listed = client.get("/a/facade/formList", **headers)
    assert listed.status_code == 200 and b"<formID>visit</formID>" in listed.content
    assert client.head("/a/facade/submission", **headers).status_code == 204

    def post(xml: bytes, photo: bytes | None, incomplete: bool = False) -> Any:
        parts: dict[str, Any] = {
            "xml_submission_file": SimpleUploadedFile("s.xml", xml, "text/xml")
        }
        if photo is not None:
            parts["p.jpg"] = SimpleUploadedFile("p.jpg", photo, "image/jpeg")
        if incomplete:
            parts["*isIncomplete*"] = "yes"
        return client.post("/a/facade/submission", parts, **headers)

    waiting = post(submission("uuid:1", "Kobo"), None, incomplete=True)
    assert waiting.status_code == 202
    stored = post(submission("uuid:1", "Kobo"), b"JPEG")
    assert stored.status_code == 201, stored.content
    row = Submission.objects.get(submission_id="uuid:1")
    assert row.data["people"] == 3
    photo = next(a for a in row.attachments if a["name"] == "p.jpg")
    assert blobs.read_bytes(photo["key"]) == b"JPEG"

    assert post(submission("uuid:1", "Lira"), None).status_code == 409
    edited = post(submission("uuid:2", "Lira", deprecated="uuid:1"), None)
    assert edited.status_code == 201, edited.content
    row.refresh_from_db()
    assert (row.current_id, row.revision, row.data["village"]) == ("uuid:2", 2, "Lira")
    assert any(a["name"] == "p.jpg" for a in row.attachments)  # still referenced: kept
