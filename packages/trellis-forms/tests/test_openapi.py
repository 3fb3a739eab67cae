"""The OpenAPI part matches what the views answer: every status seen is documented for its
operation, and every body validates against the documented schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from trellis.forms._openapi import document

pytestmark = pytest.mark.django_db

DOC = document()
DATA = {"household_id": "h1", "village": "v", "household_size": 2}


def check(operation: str, method: str, response: Any) -> None:
    documented = DOC["paths"][operation][method]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method.upper()} {operation}: {status} is not documented"
    schema = documented[status]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": DOC["components"]})
    errors = [e.message for e in validator.iter_errors(response.json())]
    assert errors == [], (operation, status, response.json())


def test_every_receiver_answer_is_documented(demo, monkeypatch) -> None:
    receiver = "/a/{domain}/receiver/"
    client = Client()

    def post(
        body: Any, auth: str | None = demo.auth, path: str = "/a/demo/receiver/", **kw: Any
    ) -> Any:
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        if "content_type" not in kw:
            kw["content_type"] = "application/json"
            body = body if isinstance(body, str) else json.dumps(body)
        return client.post(path, body, **headers, **kw)

    good = {"form": "household_visit", "id": "a1", "data": DATA}
    seen = {}
    for response in (
        post(good),
        post(good),
        post({**good, "data": {**DATA, "village": "w"}}),
        post("{"),
        post(good, auth=None),
        post(good, auth=demo.outsider_auth),
        post(good, path="/a/nowhere/receiver/"),
        post({**good, "form": "nope"}),
        post("x", content_type="text/plain"),
        post({**good, "id": "a3", "data": {}}),
        client.get("/a/demo/receiver/", HTTP_AUTHORIZATION=demo.auth),
    ):
        check(receiver, "post", response)
        seen[response.status_code] = True
    monkeypatch.setenv("TRELLIS_FORMS_MAX_ATTACHMENT", "1")
    big = client.post(
        "/a/demo/receiver/",
        {"submission": json.dumps({**good, "id": "a2"}), "p": SimpleUploadedFile("p", b"xx")},
        HTTP_AUTHORIZATION=demo.auth,
    )
    check(receiver, "post", big)
    assert [*sorted(seen), big.status_code] == [
        200,
        201,
        400,
        401,
        403,
        404,
        405,
        409,
        415,
        422,
        413,
    ]


def test_every_case_and_form_answer_is_documented(demo) -> None:
    from trellis import forms

    forms.submit(domain="demo", form="household_visit", submission_id="s1", data=DATA)
    client = Client()
    auth = {"HTTP_AUTHORIZATION": demo.auth}
    for operation, path in (
        ("/a/{domain}/api/cases/", "/a/demo/api/cases/"),
        ("/a/{domain}/api/cases/{case_id}/", "/a/demo/api/cases/h1/"),
        ("/a/{domain}/api/forms/", "/a/demo/api/forms/"),
    ):
        for response in (
            client.get(path, **auth),
            client.get(path),
            client.get(path, HTTP_AUTHORIZATION=demo.outsider_auth),
            client.get(path.replace("/demo/", "/nowhere/"), **auth),
            client.post(path, **auth),
        ):
            check(operation, "get", response)
    check("/a/{domain}/api/cases/", "get", client.get("/a/demo/api/cases/?limit=x", **auth))
    check("/a/{domain}/api/cases/{case_id}/", "get", client.get("/a/demo/api/cases/zz/", **auth))


def test_core_serves_it_in_the_whole_document(demo) -> None:
    client = Client()
    response = client.get("/api/openapi.json", HTTP_AUTHORIZATION=demo.auth)
    assert response.status_code == 200, response.content[:300]
    whole = response.json()
    assert whole["openapi"].startswith("3.1")
    assert "/a/{domain}/receiver/" in whole["paths"]
    assert "FormsSubmissionResult" in whole["components"]["schemas"]
    assert not whole.get("x-trellis-conflicts") and not whole.get("x-trellis-errors")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "form": st.sampled_from(["household_visit", "nope", "Bad"]) | st.text(max_size=5),
        "id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,5}", fullmatch=True)
        | st.text(max_size=5),
        "version": st.integers(-1, 3) | JSON,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "household_id": st.text(max_size=6) | JSON,
                "village": st.text(max_size=4),
                "household_size": st.integers(-2, 5) | JSON,
                "moved_away": st.booleans() | JSON,
            },
        )
        | JSON,
        "extra": JSON,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(sent=ENVELOPES | JSON, raw=st.booleans())
def test_fuzzed_submissions_get_documented_answers(demo, sent: Any, raw: bool) -> None:
    text = json.dumps(sent)
    if raw:  # mangle it: cut it short
        text = text[: max(0, len(text) - 2)]
    response = Client().post(
        "/a/demo/receiver/", text, content_type="application/json", HTTP_AUTHORIZATION=demo.auth
    )
    assert response.status_code < 500
    check("/a/{domain}/receiver/", "post", response)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "case_type",
                "closed",
                "modified_since",
                "limit",
                "offset",
                "property.village",
                "property.x-y",
            ]
        ),
        st.text(max_size=12),
        max_size=4,
    )
)
def test_fuzzed_case_queries_get_documented_answers(demo, params: dict[str, str]) -> None:
    response = Client().get("/a/demo/api/cases/", params, HTTP_AUTHORIZATION=demo.auth)
    assert response.status_code < 500
    check("/a/{domain}/api/cases/", "get", response)
