"""Bad input at the submission endpoint: each a clear OpenRosaResponse, nothing stored."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import encode_multipart

from .collect import instance
from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

HOUSEHOLD = (
    "<household_id>hh-1</household_id><village>Kobo</village><household_size>4</household_size>"
)
AUTH = "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode()


def nothing_stored(stored_files: Any) -> list[str]:
    from trellis.events.models import OutboxEvent
    from trellis.forms.models import Case, Submission
    from trellis.openrosa.models import PendingSubmission

    left = [
        f"{model.__name__}: {model.objects.count()}"
        for model in (Submission, Case, OutboxEvent, PendingSubmission)
        if model.objects.exists()
    ]
    from trellis.blobs.models import BlobMeta

    # the fixture's XLSForm is the only blob: no row and no content of anything else
    left += [
        f"blob {n}" for n in BlobMeta.objects.exclude(type_code=20).values_list("name", flat=True)
    ]
    return left + ([f"{len(stored_files())} files"] if len(stored_files()) != 1 else [])


def post(parts: dict[str, Any], **headers: str) -> Any:
    headers = {"HTTP_AUTHORIZATION": AUTH, "HTTP_X_OPENROSA_VERSION": "1.0", **headers}
    return Client().post("/a/demo/submission", parts, **headers)


def xml_part(xml: bytes, content_type: str = "text/xml") -> SimpleUploadedFile:
    return SimpleUploadedFile("submission.xml", xml, content_type)


def refused(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("text/xml")
    assert b"<OpenRosaResponse" in response.content
    assert words in response.content.decode(), response.content
    assert response["X-OpenRosa-Version"] == "1.0"
    assert response["X-OpenRosa-Accept-Content-Length"]
    assert response["Date"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<data id="household_visit" version="1"><village>&lol3;</village></data>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<data id="household_visit" version="1"><village>&x;</village></data>"""


@pytest.mark.parametrize(
    ("parts", "status", "words"),
    [
        (
            {"xml_submission_file": xml_part(b"<data id='household_visit'><village>")},
            400,
            "not well-formed",
        ),
        ({"xml_submission_file": xml_part(BILLION_LAUGHS)}, 400, "forbidden construct"),
        ({"xml_submission_file": xml_part(EXTERNAL)}, 400, "forbidden construct"),
        (
            {"photo.jpg": SimpleUploadedFile("photo.jpg", b"x")},
            400,
            "exactly one part named 'xml_submission_file'",
        ),
        (
            {"xml_submission_file": xml_part(instance("nothing", "1", HOUSEHOLD))},
            404,
            "has no form 'nothing'",
        ),
        (
            {"xml_submission_file": xml_part(instance("household_visit", "9", HOUSEHOLD))},
            404,
            "has no version '9'",
        ),
        (
            {
                "xml_submission_file": xml_part(
                    instance("household_visit", "1", HOUSEHOLD.replace("4<", "four<"))
                )
            },
            400,
            "/household_size: 'four' is not an integer",
        ),
        (
            {
                "xml_submission_file": xml_part(
                    instance("household_visit", "1", HOUSEHOLD), "image/png"
                )
            },
            400,
            "send it as text/xml",
        ),
        (
            {
                "xml_submission_file": xml_part(
                    instance("household_visit", "1", HOUSEHOLD, instance_id="uuid:a/../b")
                )
            },
            400,
            "is not an id here",
        ),
        (
            {
                "xml_submission_file": xml_part(instance("household_visit", "1", HOUSEHOLD)),
                "note": "hello",
            },
            400,
            "is not a file",
        ),
    ],
)
def test_bad_submissions_are_refused_and_store_nothing(
    field: Any, stored_files: Any, parts: dict[str, Any], status: int, words: str
) -> None:
    refused(post(parts), status, words)
    assert nothing_stored(stored_files) == []


def test_two_xml_parts_are_refused(field: Any, stored_files: Any) -> None:
    xml = instance("household_visit", "1", HOUSEHOLD)
    body = encode_multipart(
        "B", {"xml_submission_file": [xml_part(xml), SimpleUploadedFile("b.xml", xml)]}
    )
    response = Client().post(
        "/a/demo/submission",
        body,
        content_type="multipart/form-data; boundary=B",
        HTTP_AUTHORIZATION=AUTH,
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    refused(response, 400, "got 2")
    assert nothing_stored(stored_files) == []


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "a/b.jpg", "..", "x" * 300, "bomb.zip\x00.jpg", ".hidden"]
)
def test_path_characters_in_attachment_names(field: Any, stored_files: Any, name: str) -> None:
    xml = instance("household_visit", "1", HOUSEHOLD)
    body = (
        b'--B\r\nContent-Disposition: form-data; name="xml_submission_file"; '
        b'filename="s.xml"\r\nContent-Type: text/xml\r\n\r\n' + xml + b"\r\n--B\r\n"
        b'Content-Disposition: form-data; name="'
        + name.encode()
        + b'"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: image/jpeg\r\n\r\nJPEG\r\n--B--\r\n'
    )
    response = Client().post(
        "/a/demo/submission",
        body,
        content_type="multipart/form-data; boundary=B",
        HTTP_AUTHORIZATION=AUTH,
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    assert response.status_code == 400, response.content
    assert b"<OpenRosaResponse" in response.content
    assert nothing_stored(stored_files) == []


def test_a_zip_bomb_attachment_is_stored_as_bytes_never_unpacked(
    field: Any, stored_files: Any
) -> None:
    from trellis import blobs
    from trellis.forms.models import Submission

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros", b"\0" * (20 * 1024 * 1024))
    response = post(
        {
            "xml_submission_file": xml_part(instance("household_visit", "1", HOUSEHOLD)),
            "bomb.zip": SimpleUploadedFile("bomb.zip", bomb.getvalue(), "application/zip"),
        }
    )
    assert response.status_code == 201, response.content
    stored = {a["name"]: a for a in Submission.objects.get().attachments}
    assert blobs.read_bytes(stored["bomb.zip"]["key"]) == bomb.getvalue()
    assert stored["bomb.zip"]["length"] < 100_000  # kept compressed, as sent


@pytest.mark.parametrize("version", [None, "2.0", "1.0x"])
def test_missing_or_wrong_openrosa_version_header(field: Any, version: str | None) -> None:
    headers = {"HTTP_AUTHORIZATION": AUTH}
    if version is not None:
        headers["HTTP_X_OPENROSA_VERSION"] = version
    response = Client().post(
        "/a/demo/submission",
        {"xml_submission_file": xml_part(instance("household_visit", "1", HOUSEHOLD))},
        **headers,
    )
    refused(response, 400, "X-OpenRosa-Version")


def test_an_over_size_body_is_refused_before_reading(
    field: Any, stored_files: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRELLIS_OPENROSA_MAX_BODY", "2KiB")
    head = Client().head(
        "/a/demo/submission", HTTP_AUTHORIZATION=AUTH, HTTP_X_OPENROSA_VERSION="1.0"
    )
    assert head.status_code == 204
    assert head["X-OpenRosa-Accept-Content-Length"] == "2048"
    response = post(
        {
            "xml_submission_file": xml_part(instance("household_visit", "1", HOUSEHOLD)),
            "big.jpg": SimpleUploadedFile("big.jpg", b"x" * 4096, "image/jpeg"),
        }
    )
    refused(response, 413, "accepts up to 2048 bytes")
    assert nothing_stored(stored_files) == []


def test_other_methods_and_content_types(field: Any) -> None:
    response = Client().get(
        "/a/demo/submission", HTTP_AUTHORIZATION=AUTH, HTTP_X_OPENROSA_VERSION="1.0"
    )
    refused(response, 405, "not allowed")
    assert response["Allow"] == "HEAD, POST"
    response = Client().post(
        "/a/demo/submission",
        b"<data/>",
        content_type="text/xml",
        HTTP_AUTHORIZATION=AUTH,
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    refused(response, 400, "multipart/form-data")


def test_a_session_cannot_submit(field: Any, client: Client) -> None:
    """A browser session (no CSRF token in the protocol) reads the form list, never writes."""
    client.force_login(field.worker)
    listed = client.get("/a/demo/formList", HTTP_X_OPENROSA_VERSION="1.0")
    assert listed.status_code == 200
    response = client.post(
        "/a/demo/submission",
        {"xml_submission_file": xml_part(instance("household_visit", "1", HOUSEHOLD))},
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Digest ")
