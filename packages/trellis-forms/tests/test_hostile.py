"""What an outside tester found driving the receiver and form_define as a hostile client would:
truncated multipart bodies, chunked bodies, identifiers with a trailing newline in case rules,
schemas that break later, values no database stores, and the byte order of a resend's answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from trellis import forms
from trellis.forms.models import Submission

from .conftest import SCHEMA, nothing_written

pytestmark = pytest.mark.django_db

URL = "/a/demo/receiver/"
BOUNDARY = "tRuNcAtEd"


def envelope(**overrides: Any) -> dict[str, Any]:
    sent: dict[str, Any] = {
        "form": "household_visit",
        "id": "uuid:h1",
        "data": {"household_id": "hh-1", "village": "Kobo", "household_size": 4},
    }
    sent.update(overrides)
    return sent


def multipart_bytes(*parts: tuple[str, bytes, str | None]) -> bytes:
    """A multipart body, closing boundary included: (field name, content, file name)."""
    out = b""
    for name, content, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: image/jpeg\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def post_raw(auth: str, raw: bytes, **extra: Any) -> Any:
    return Client().post(
        URL,
        raw,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_AUTHORIZATION=auth,
        **extra,
    )


@pytest.mark.parametrize("cut", [len(f"--{BOUNDARY}--\r\n"), 20, 200])
def test_a_multipart_body_without_its_closing_boundary_is_400(demo, stored_files, cut) -> None:
    # A device whose upload was cut short (a proxy, a dropped connection with a matching
    # Content-Length) must hear about it: Django drops an unfinished last file part silently.
    whole = multipart_bytes(
        ("submission", json.dumps(envelope()).encode(), None),
        ("photo", b"\xff\xd8" + b"j" * 300, "p.jpg"),
    )
    response = post_raw(demo.auth, whole[:-cut])
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "malformed"
    assert "closing boundary" in response.json()["message"]
    assert nothing_written(stored_files) == []
    done = post_raw(demo.auth, whole)
    assert done.status_code == 201, done.content
    assert [a["length"] for a in done.json()["attachments"]] == [302]


def test_a_truncated_last_text_part_is_not_stored_truncated(demo, stored_files) -> None:
    whole = multipart_bytes(
        ("submission", json.dumps(envelope()).encode(), None),
        ("note", b"a long note " * 20, None),
    )
    response = post_raw(demo.auth, whole[:-40])
    assert response.status_code == 400, response.content
    assert nothing_written(stored_files) == []


def test_an_epilogue_after_the_closing_boundary_is_fine(demo) -> None:
    whole = multipart_bytes(("submission", json.dumps(envelope()).encode(), None))
    response = post_raw(demo.auth, whole + b"an epilogue, ignored\r\n")
    assert response.status_code == 201, response.content


def test_a_part_without_a_name_is_refused_not_dropped(demo, stored_files) -> None:
    raw = multipart_bytes(
        ("submission", json.dumps(envelope()).encode(), None),
        ("", b"jpeg bytes", "p.jpg"),
    )
    response = post_raw(demo.auth, raw)
    assert response.status_code == 422, response.content
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [
        ("/attachments", "name")
    ]
    assert nothing_written(stored_files) == []


def test_a_chunked_body_is_411_not_a_json_error(demo) -> None:
    # WSGI servers hand Django no Content-Length for a chunked body, so Django reads nothing;
    # the device must be told to send a Content-Length, not that its JSON is invalid.
    raw = json.dumps(envelope()).encode()
    response = Client().post(
        URL,
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=demo.auth,
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411, response.content
    assert (response.json()["code"], response.json()["field"]) == (
        "length_required",
        "Content-Length",
    )
    assert not Submission.objects.exists()
    from .test_openapi import check

    check("/a/{domain}/receiver/", "post", response)


def test_an_empty_body_says_so(demo) -> None:
    response = Client().generic(
        "POST", URL, b"", HTTP_AUTHORIZATION=demo.auth, CONTENT_TYPE="application/json"
    )
    assert response.status_code == 400
    assert "empty" in response.json()["message"]


def test_a_version_too_big_names_the_limit(demo) -> None:
    response = Client().post(
        URL,
        json.dumps(envelope(version=2**40)),
        content_type="application/json",
        HTTP_AUTHORIZATION=demo.auth,
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["rule"]) == ("/version", "maximum")
    assert "2147483647" in error["message"]


def define(**overrides: Any) -> Any:
    kwargs: dict[str, Any] = {
        "domain": "demo",
        "name": "visit",
        "version": 1,
        "schema": SCHEMA,
        "case_rules": [{"case_type": "household", "case_id": "/household_id", "action": "upsert"}],
    }
    kwargs.update(overrides)
    return forms.form_define(**kwargs)


def fields(exc: forms.InvalidDefinition) -> list[tuple[str, str]]:
    return [(e.field, e.rule) for e in exc.errors]


@pytest.mark.parametrize(
    ("rule", "where"),
    [
        ({"case_type": "household\n"}, "/case_rules/0/case_type"),
        ({"properties": {"village\n": "/village"}}, "/case_rules/0/properties"),
    ],
)
def test_case_rule_identifiers_with_a_trailing_newline_are_refused(demo, rule, where) -> None:
    base = {"case_type": "household", "case_id": "/household_id", "action": "upsert"}
    with pytest.raises(forms.InvalidDefinition) as caught:
        define(case_rules=[{**base, **rule}])
    assert fields(caught.value) == [(where, "pattern")]


def test_case_rules_that_are_not_a_list_are_refused_as_such(demo) -> None:
    rule = {"case_type": "household", "case_id": "/household_id", "action": "upsert"}
    with pytest.raises(forms.InvalidDefinition) as caught:
        define(case_rules=rule)
    assert fields(caught.value) == [("/case_rules", "type")]


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        (
            {"type": "object", "properties": {"age": {"type": "string", "pattern": "("}}},
            "/schema/properties/age/pattern",
        ),
        ({"type": "object", "patternProperties": {"[": {}}}, "/schema/patternProperties"),
    ],
)
def test_a_schema_with_an_invalid_regex_is_refused(demo, schema, where) -> None:
    # Accepted, it would answer every submission with a 422 blaming the device's data.
    with pytest.raises(forms.InvalidDefinition) as caught:
        define(schema=schema, case_rules=[])
    assert [f for f, _ in fields(caught.value)] == [where]


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"schema": {"type": "object", "maximum": float("inf")}}, "/schema/maximum"),
        ({"schema": {"type": "object", "title": "a\x00b"}}, "/schema/title"),
        ({"schema": {"type": "object", "title": "\ud800"}}, "/schema/title"),
        ({"schema": {"type": "object", "const": {"\x00": 1}}}, "/schema/const"),
        ({"title": "a\x00b"}, "/title"),
        ({"title": "t" * 201}, "/title"),
    ],
)
def test_definition_values_no_database_stores_are_refused(demo, overrides, where) -> None:
    # On PostgreSQL each of these was a raw DataError (a 500 in the admin).
    with pytest.raises(forms.InvalidDefinition) as caught:
        define(case_rules=[], **overrides)
    assert [f for f, _ in fields(caught.value)] == [where]


def test_a_resend_answers_the_same_bytes_after_the_database_reordered_keys(demo) -> None:
    # PostgreSQL's jsonb gives the stored lists' objects back with their keys sorted.
    from django.core.files.uploadedfile import SimpleUploadedFile

    def send() -> Any:
        parts = {
            "submission": json.dumps(envelope()),
            "photo": SimpleUploadedFile("p.jpg", b"jpeg", content_type="image/jpeg"),
        }
        return Client().post(URL, parts, HTTP_AUTHORIZATION=demo.auth)

    first = send()
    assert first.status_code == 201, first.content
    row = Submission.objects.get()
    Submission.objects.filter(pk=row.pk).update(
        cases=[dict(sorted(c.items())) for c in row.cases],
        attachments=[dict(sorted(a.items())) for a in row.attachments],
    )
    again = send()
    assert again.status_code == 200
    assert again.content == first.content


def test_a_session_multipart_write_is_checked_for_csrf_and_truncation(demo, stored_files) -> None:
    # The CSRF check reads the form fields (csrfmiddlewaretoken): the body is parsed once,
    # watched, before it.
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.user)
    client.get("/admin/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    photo = SimpleUploadedFile("p.jpg", b"jpeg", content_type="image/jpeg")
    parts = {"submission": json.dumps(envelope()), "photo": photo}
    refused = client.post(URL, parts)
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
    photo.seek(0)
    done = client.post(URL, {**parts, "csrfmiddlewaretoken": token})
    assert done.status_code == 201, done.content
    assert [a["name"] for a in done.json()["attachments"]] == ["photo"]
    whole = multipart_bytes(
        ("submission", json.dumps(envelope(id="uuid:h2")).encode(), None),
        ("photo", b"jpeg" * 100, "p.jpg"),
    )
    cut = client.post(
        URL,
        whole[:-30],
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_X_CSRFTOKEN=token,
    )
    assert cut.status_code == 400, cut.content
    assert Submission.objects.count() == 1


def test_a_schema_nested_too_deeply_is_refused_not_a_recursion_error(demo) -> None:
    schema: dict[str, Any] = {}
    for _ in range(300):
        schema = {"type": "object", "properties": {"a": schema}}
    with pytest.raises(forms.InvalidDefinition) as caught:
        define(schema=schema, case_rules=[])
    assert [rule for _, rule in fields(caught.value)] == ["depth"]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({1: "a"}, "/data"),
        ({"a": {1, 2}}, "/data/a"),
        ({"a": b"bytes"}, "/data/a"),
        ({"a": [{"b": object()}]}, "/data/a/0/b"),
    ],
)
def test_data_json_cannot_hold_is_malformed_not_a_type_error(demo, data, where) -> None:
    with pytest.raises(forms.MalformedRequest) as caught:
        forms.submit(domain="demo", form="household_visit", submission_id="uuid:py", data=data)
    assert caught.value.field == where


def test_data_nested_too_deeply_is_malformed_before_anything_serializes_it(demo) -> None:
    data: dict[str, Any] = {}
    for _ in range(5000):
        data = {"a": data}
    with pytest.raises(forms.MalformedRequest):
        forms.submit(domain="demo", form="household_visit", submission_id="uuid:py", data=data)


def test_data_is_checked_before_the_resend_lookup_as_documented(demo) -> None:
    sent = envelope()
    forms.submit(domain="demo", form=sent["form"], submission_id=sent["id"], data=sent["data"])
    with pytest.raises(forms.MalformedRequest):
        forms.submit(domain="demo", form=sent["form"], submission_id=sent["id"], data={"x": "\x00"})


@pytest.mark.django_db(transaction=True)
def test_the_receiver_never_runs_inside_an_atomic_request(demo, monkeypatch) -> None:
    # With ATOMIC_REQUESTS the view would run in the request's transaction: a failure after
    # the submission's own block (the commit) would leave attachment content behind.
    from django.db import connection

    from trellis.forms import _receiving

    seen: list[bool] = []
    original = _receiving._store

    def store(*args: Any, **kwargs: Any) -> Any:
        seen.append(connection.in_atomic_block)
        return original(*args, **kwargs)

    monkeypatch.setattr(_receiving, "_store", store)
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    response = Client().post(
        URL, json.dumps(envelope()), content_type="application/json", HTTP_AUTHORIZATION=demo.auth
    )
    assert response.status_code == 201, response.content
    assert seen == [False]


def test_text_parts_that_are_not_utf8_are_refused_not_altered(demo, stored_files) -> None:
    # Django decodes text parts with errors="replace": "Jos\xe9" (Latin-1) became "Jos\ufffd".
    sent = json.dumps(envelope()).encode().replace(b"Kobo", b"K\xf6bo")
    response = post_raw(demo.auth, multipart_bytes(("submission", sent, None)))
    assert (response.status_code, response.json()["field"]) == (400, "submission")
    note = multipart_bytes(
        ("submission", json.dumps(envelope()).encode(), None), ("note", b"caf\xe9", None)
    )
    response = post_raw(demo.auth, note)
    assert (response.status_code, response.json()["field"]) == (400, "/attachments/note")
    assert nothing_written(stored_files) == []
    good = multipart_bytes(
        (
            "submission",
            json.dumps(
                envelope(data={**envelope()["data"], "village": "Kȍbo"}), ensure_ascii=False
            ).encode(),
            None,
        ),
        ("note", "café ✓".encode(), None),
    )
    response = post_raw(demo.auth, good)
    assert response.status_code == 201, response.content
    [stored] = response.json()["attachments"]
    from trellis import blobs

    assert blobs.read_bytes(stored["key"]) == "café ✓".encode()
    assert Submission.objects.get().data["village"] == "Kȍbo"


def test_an_attachment_content_type_over_255_characters_is_422_not_500(demo, stored_files) -> None:
    # trellis-blobs refuses it inside the transaction: that was a 500 (nothing stored).
    with pytest.raises(forms.ValidationFailed) as caught:
        forms.submit(
            domain="demo",
            form="household_visit",
            submission_id="uuid:ct",
            data=envelope()["data"],
            attachments=[forms.Attachment("photo", b"jpeg", "image/" + "x" * 300)],
        )
    assert [(e.field, e.rule) for e in caught.value.errors] == [
        ("/attachments/photo", "content_type")
    ]
    assert "255" in caught.value.errors[0].message
    assert nothing_written(stored_files) == []


@pytest.mark.parametrize("end", range(65530, 65542))
def test_a_delimiter_at_a_read_boundary_is_counted_once(demo, end) -> None:
    # Django reads the body in 64 KiB chunks; a delimiter near the end of one must not be
    # counted again with the next (that would report a part Django "skipped").
    head = multipart_bytes(("submission", json.dumps(envelope()).encode(), None))[
        : -len(f"--{BOUNDARY}--\r\n")
    ]
    opening = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="pad"; filename="p"\r\n'
    opening += "Content-Type: application/octet-stream\r\n\r\n"
    delimiter = f"\r\n--{BOUNDARY}".encode()
    padding = end - len(head) - len(opening) - len(delimiter)
    raw = head + opening.encode() + b"x" * padding + delimiter
    assert len(raw) == end
    raw += (
        f'\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--{BOUNDARY}--\r\n'.encode()
    )
    response = post_raw(demo.auth, raw)
    assert response.status_code == 201, response.content
    assert sorted(a["name"] for a in response.json()["attachments"]) == ["note", "pad"]
