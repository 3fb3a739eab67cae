"""POST /a/<domain>/receiver/: JSON and multipart, statuses, idempotent resends, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from trellis import blobs
from trellis.forms.models import Case, Submission

from .conftest import nothing_written

pytestmark = pytest.mark.django_db

URL = "/a/demo/receiver/"


def body(**overrides: Any) -> dict[str, Any]:
    sent: dict[str, Any] = {
        "form": "household_visit",
        "id": "uuid:0001",
        "data": {"household_id": "hh-1", "village": "Kobo", "household_size": 4},
    }
    sent.update(overrides)
    return sent


def post(auth: str | None, payload: Any, **extra: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    text = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return Client().post(URL, text, content_type="application/json", **headers, **extra)


def test_json_submission_is_stored_with_its_case(demo) -> None:
    response = post(demo.auth, body())
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["id"] == "uuid:0001"
    assert (answer["form"], answer["form_version"]) == ("household_visit", 1)
    assert answer["received_at"].endswith("Z") and "." in answer["received_at"]
    assert answer["cases"] == [{"case_id": "hh-1", "case_type": "household", "action": "create"}]
    assert answer["attachments"] == []
    row = Submission.objects.get()
    assert row.username == "ada"
    case = Case.objects.get()
    assert case.properties == {"village": "Kobo", "size": 4}


def test_identical_resend_answers_200_with_the_original_and_writes_nothing(demo) -> None:
    first = post(demo.auth, body())
    assert first.status_code == 201
    again = post(demo.auth, body())
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Submission.objects.count() == 1
    assert Case.objects.get().changes.count() == 1
    different = post(demo.auth, body(data={**body()["data"], "household_size": 5}))
    assert different.status_code == 409
    assert different.json()["code"] == "conflict"
    assert different.json()["field"] == "id"
    assert Case.objects.get().properties["size"] == 4


def test_schema_failure_is_422_with_every_error_sorted(demo, stored_files) -> None:
    response = post(demo.auth, body(data={"household_id": "hh-1", "household_size": 0, "age": -1}))
    assert response.status_code == 422
    answer = response.json()
    assert answer["code"] == "invalid"
    assert answer["request_id"]
    assert [(e["field"], e["rule"]) for e in answer["errors"]] == [
        ("/data", "required"),
        ("/data/age", "minimum"),
        ("/data/household_size", "minimum"),
    ]
    assert "'village' is a required property" in answer["errors"][0]["message"]
    assert answer["field"] == "/data"
    assert nothing_written(stored_files) == []


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ("{not json", 400, "malformed"),
        ('{"form": "household_visit", "id": "x", "data": {"a": NaN}}', 400, "malformed"),
        ("[1, 2]", 422, "invalid"),
        (body(id="../etc/passwd"), 422, "invalid"),
        (body(form="Household"), 422, "invalid"),
        (body(version=0), 422, "invalid"),
        (body(version=True), 422, "invalid"),
        (body(data=[]), 422, "invalid"),
        ({"form": "household_visit", "id": "a", "data": {}, "extra": 1}, 422, "invalid"),
        ({"id": "a", "data": {}}, 422, "invalid"),
        (body(form="nope"), 404, "form_not_found"),
        (body(version=7), 404, "form_not_found"),
        (body(data={**body()["data"], "village": "a\u0000b"}), 400, "malformed"),
        ('{"form": "household_visit", "id": "s", "data": {"v": "\\ud800"}}', 400, "malformed"),
        ('{"form": "household_visit", "id": "s", "data": {"\\u0000": 1}}', 400, "malformed"),
        ('{"form": "household_visit", "id": "s", "data": {"n": 1e400}}', 400, "malformed"),
        (b"\xff\xfe{}", 400, "malformed"),
    ],
)
def test_bad_input_is_refused_and_leaves_nothing(demo, stored_files, payload, status, code) -> None:
    response = post(demo.auth, payload)
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["code"] == code
    assert answer["message"]
    if status == 422:
        assert answer["errors"] and all(
            {"field", "rule", "message"} <= set(e) for e in answer["errors"]
        )
    assert nothing_written(stored_files) == []


def test_an_integral_float_version_is_the_integer(demo) -> None:
    response = post(demo.auth, body(version=1.0))
    assert (response.status_code, response.json()["form_version"]) == (201, 1)
    assert post(demo.auth, body(version=1.5)).status_code == 422


def test_deep_data_is_refused(demo, stored_files) -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = {"d": deep}
    response = post(demo.auth, body(data={**body()["data"], "extra": deep}))
    assert (response.status_code, response.json()["code"]) == (400, "malformed")
    assert nothing_written(stored_files) == []


def test_auth_domain_and_method_statuses(demo, stored_files) -> None:
    assert post(None, body()).status_code == 401
    assert post(None, body())["WWW-Authenticate"] == "ApiKey"
    assert post("ApiKey ada:wrong", body()).status_code == 401
    assert post(demo.outsider_auth, body()).json()["code"] == "not_a_member"
    assert post(demo.outsider_auth, body()).status_code == 403
    unknown = Client().post(
        "/a/nowhere/receiver/", "{}", content_type="application/json", HTTP_AUTHORIZATION=demo.auth
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "domain_not_found")
    got = Client().get(URL, HTTP_AUTHORIZATION=demo.auth)
    assert (got.status_code, got["Allow"]) == (405, "POST")
    form = Client().post(URL, "a=1", content_type="text/plain", HTTP_AUTHORIZATION=demo.auth)
    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")
    assert nothing_written(stored_files) == []


def test_session_user_needs_the_csrf_token(demo) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.user)
    refused = client.post(URL, json.dumps(body()), content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
    client.get("/admin/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    done = client.post(
        URL, json.dumps(body()), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert done.status_code == 201, done.content


def test_body_over_the_limit_is_413_before_reading(demo, monkeypatch, stored_files) -> None:
    monkeypatch.setenv("TRELLIS_FORMS_MAX_BODY", "100")
    response = post(demo.auth, body(data={**body()["data"], "pad": "x" * 200}))
    assert response.status_code == 413
    assert "100 bytes" in response.json()["message"]
    assert nothing_written(stored_files) == []


def test_content_length_is_checked_before_the_body_is_read(demo, monkeypatch) -> None:
    monkeypatch.setenv("TRELLIS_FORMS_MAX_BODY", "1KiB")
    lying = post(demo.auth, body(), CONTENT_LENGTH="2000")  # the body itself is small
    assert (lying.status_code, lying.json()["field"]) == (413, "Content-Length")
    assert "1024 bytes" in lying.json()["message"]
    session = Client(enforce_csrf_checks=True)
    session.force_login(demo.user)
    big = session.post(URL, {"submission": "x" * 2000})  # refused before the CSRF check reads it
    assert big.status_code == 413
    assert not Submission.objects.exists()


def multipart(auth: str, submission: dict[str, Any], **files: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    parts: dict[str, Any] = {"submission": json.dumps(submission)}
    for name, content in files.items():
        parts[name] = SimpleUploadedFile(f"{name}.bin", content, content_type="image/jpeg")
    return Client().post(URL, parts, HTTP_AUTHORIZATION=auth)


def test_multipart_with_attachments_stores_them_in_blobs(demo, stored_files) -> None:
    response = multipart(demo.auth, body(), photo=b"\xff\xd8jpeg", signature=b"sig")
    assert response.status_code == 201, response.content
    attachments = {a["name"]: a for a in response.json()["attachments"]}
    assert sorted(attachments) == ["photo", "signature"]
    photo = attachments["photo"]
    assert (photo["content_type"], photo["length"]) == ("image/jpeg", 6)
    assert blobs.read_bytes(photo["key"]) == b"\xff\xd8jpeg"
    info = blobs.get_info(photo["key"])
    assert (info.domain, info.parent_id) == ("demo", "uuid:0001")
    assert len(stored_files()) == 2
    again = multipart(demo.auth, body(), photo=b"\xff\xd8jpeg", signature=b"sig")
    assert (again.status_code, again.json()) == (200, response.json())
    changed = multipart(demo.auth, body(), photo=b"other bytes", signature=b"sig")
    assert changed.status_code == 409
    assert len(stored_files()) == 2


def test_oversize_attachment_is_413_naming_the_limit(demo, monkeypatch, stored_files) -> None:
    monkeypatch.setenv("TRELLIS_FORMS_MAX_ATTACHMENT", "10")
    response = multipart(demo.auth, body(), small=b"ok", photo=b"x" * 11)
    assert response.status_code == 413
    assert "photo" in response.json()["message"] and "10 bytes" in response.json()["message"]
    assert nothing_written(stored_files) == []
    monkeypatch.setenv("TRELLIS_FORMS_MAX_ATTACHMENTS", "1")
    too_many = multipart(demo.auth, body(), a=b"1", b=b"2")
    assert (too_many.status_code, too_many.json()["field"]) == (413, "attachments")
    assert nothing_written(stored_files) == []


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b.jpg", "x" * 101, "c:x.jpg"])
def test_attachment_names_with_path_characters_are_refused(demo, stored_files, name) -> None:
    response = multipart(demo.auth, body(), **{name: b"data"})
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["rule"] == "name"
    assert nothing_written(stored_files) == []


@pytest.mark.parametrize("name", ["a b.jpg", "ü.jpg", "IMG 2024 (1)-10_20_30.jpg"])
def test_attachment_names_as_people_name_files_are_kept(demo, name) -> None:
    """Field clients keep the name a user's file had (Enketo: spaces, accents, brackets)."""
    response = multipart(demo.auth, body(), **{name: b"data"})
    assert response.status_code == 201, response.content
    assert [a["name"] for a in response.json()["attachments"]] == [name]


def test_big_text_parts_and_too_many_files_are_413(demo, settings, stored_files) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    parts = {"submission": json.dumps(body(data={**body()["data"], "pad": "x" * 200}))}
    response = Client().post(URL, parts, HTTP_AUTHORIZATION=demo.auth)
    assert response.status_code == 413
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["message"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = {f"f{n}": SimpleUploadedFile(f"f{n}", b"x") for n in range(3)}
    many = Client().post(
        URL, {"submission": json.dumps(body()), **files}, HTTP_AUTHORIZATION=demo.auth
    )
    assert (many.status_code, many.json()["field"]) == (413, "attachments")
    assert nothing_written(stored_files) == []


def test_a_text_part_is_an_attachment_too(demo) -> None:
    parts = {"submission": json.dumps(body()), "note": "hello"}
    response = Client().post(URL, parts, HTTP_AUTHORIZATION=demo.auth)
    assert response.status_code == 201, response.content
    [note] = response.json()["attachments"]
    assert (note["name"], note["content_type"]) == ("note", "text/plain; charset=utf-8")
    assert blobs.read_bytes(note["key"]) == b"hello"


def test_broken_multipart_bodies_are_400(demo, stored_files) -> None:
    client = Client()
    no_submission = client.post(URL, {"other": "x"}, HTTP_AUTHORIZATION=demo.auth)
    assert (no_submission.status_code, no_submission.json()["field"]) == (400, "submission")
    bad = client.post(
        URL,
        b"--x\r\nbroken",
        content_type="multipart/form-data; boundary=x",
        HTTP_AUTHORIZATION=demo.auth,
    )
    assert bad.status_code == 400
    assert nothing_written(stored_files) == []


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("bad key", 401),
        ("not a member", 403),
        ("unknown domain", 404),
        ("unknown form", 404),
        ("schema failure", 422),
        ("bad json", 400),
    ],
)
def test_refused_multipart_submissions_store_no_attachment(
    demo, stored_files, case, status
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    auth = {"bad key": "ApiKey ada:nope", "not a member": demo.outsider_auth}.get(case, demo.auth)
    url = "/a/nowhere/receiver/" if case == "unknown domain" else URL
    sent: Any = body()
    if case == "unknown form":
        sent = body(form="nope")
    elif case == "schema failure":
        sent = body(data={"household_id": "x"})
    parts = {
        "submission": "{oops" if case == "bad json" else json.dumps(sent),
        "photo": SimpleUploadedFile("p.jpg", b"jpeg", content_type="image/jpeg"),
    }
    response = Client().post(url, parts, HTTP_AUTHORIZATION=auth)
    assert response.status_code == status, response.content
    assert nothing_written(stored_files) == []


def test_a_submission_updating_a_case_runs_the_few_statements_it_needs(
    demo, django_assert_num_queries
) -> None:
    """The receiver's SQL, counted (the benchmark's hand-wired view needs 12): the key with its
    user, the domain and the membership once each, the resend lookup, the form, then in one
    transaction the locked case, its update, the submission (with its case list), the case's
    history and the two events. Reports run after commit (not here: the test's transaction
    never commits)."""
    assert post(demo.auth, body(id="first")).status_code == 201  # creates case hh-1
    with django_assert_num_queries(13) as captured:  # 12 + the test transaction's savepoint
        assert post(demo.auth, body(id="second")).status_code == 201
    verbs = [q["sql"].split()[0] for q in captured.captured_queries]
    assert verbs.count("SELECT") == 6, verbs
    assert verbs.count("UPDATE") == 1, verbs  # the case; the submission is written once
    assert verbs.count("INSERT") == 4, verbs  # submission, case change, two outbox events
