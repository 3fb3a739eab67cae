"""Case rules (create, update, upsert, close, close_when) and the case API (filters, paging,
history)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from trellis import forms
from trellis.events.models import OutboxEvent
from trellis.forms.models import Case

from .conftest import SCHEMA

pytestmark = pytest.mark.django_db


def visit(n: int, household: str = "hh-1", **data: Any) -> forms.SubmissionResult:
    sent = {"household_id": household, "village": "Kobo", "household_size": 4, **data}
    return forms.submit(domain="demo", form="household_visit", submission_id=f"s-{n}", data=sent)


def define(version: int, action: str, **rule: Any) -> None:
    forms.form_define(
        domain="demo",
        name="household_visit",
        version=version,
        schema=SCHEMA,
        case_rules=[
            {"case_type": "household", "case_id": "/household_id", "action": action, **rule}
        ],
    )


def get(auth: str, path: str) -> Any:
    return Client().get(f"/a/demo/api/{path}", HTTP_AUTHORIZATION=auth)


def test_upsert_creates_then_updates_then_close_when_closes(demo) -> None:
    assert visit(1).cases == [{"case_id": "hh-1", "case_type": "household", "action": "create"}]
    assert visit(2, household_size=5).cases[0]["action"] == "update"
    assert visit(3, household_size=5, moved_away=False).cases[0]["action"] == "update"
    assert visit(4, household_size=5, moved_away=True).cases[0]["action"] == "close"
    case = Case.objects.get()
    assert case.closed and case.properties == {"village": "Kobo", "size": 5}
    history = [(c.action, c.changed, c.submission.submission_id) for c in case.changes.all()]
    assert history == [
        ("create", ["size", "village"], "s-1"),
        ("update", ["size"], "s-2"),
        ("update", [], "s-3"),
        ("close", [], "s-4"),
    ]
    payloads = [e.payload for e in OutboxEvent.objects.filter(topic="case.changed").order_by("id")]
    import json

    decoded = [json.loads(p) for p in payloads]
    assert [p["action"] for p in decoded] == ["create", "update", "update", "close"]
    assert decoded[1]["properties"] == {"village": "Kobo", "size": 5}
    assert decoded[1]["changed"] == ["size"]
    assert decoded[-1]["closed"] is True
    assert len({p["change_id"] for p in decoded}) == 4


def test_create_of_an_existing_case_and_update_of_a_missing_one_are_422(demo) -> None:
    define(2, "create")
    visit(1)
    with pytest.raises(forms.ValidationFailed) as caught:
        visit(2)
    assert [(e.field, e.rule) for e in caught.value.errors] == [
        ("/data/household_id", "case_exists")
    ]
    define(3, "update")
    with pytest.raises(forms.ValidationFailed) as caught:
        visit(3, household="hh-404")
    assert caught.value.errors[0].rule == "case_not_found"
    assert "case rule 0 (update household)" in caught.value.errors[0].message
    define(4, "close")
    assert visit(4).cases[0]["action"] == "close"
    with pytest.raises(forms.ValidationFailed):
        visit(5, household="hh-405")


def test_a_case_of_another_type_and_a_bad_case_id_are_refused(demo) -> None:
    visit(1)
    forms.form_define(
        domain="demo",
        name="household_visit",
        version=2,
        schema=SCHEMA,
        case_rules=[{"case_type": "person", "case_id": "/household_id", "action": "upsert"}],
    )
    with pytest.raises(forms.ValidationFailed) as caught:
        visit(2)
    assert caught.value.errors[0].rule == "case_type"
    with pytest.raises(forms.ValidationFailed) as caught:
        visit(3, household="no spaces allowed")
    assert caught.value.errors[0].rule == "case_id"


def test_the_receiver_answers_422_naming_the_rule(demo) -> None:
    define(2, "update")
    response = Client().post(
        "/a/demo/receiver/",
        {
            "form": "household_visit",
            "id": "x1",
            "data": {"household_id": "nope", "village": "K", "household_size": 1},
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=demo.auth,
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["rule"] == "case_not_found" and error["field"] == "/data/household_id"


def test_case_list_filters_and_pages(demo) -> None:
    for n in range(5):
        visit(n, household=f"hh-{n}", household_size=n + 1, village="A" if n % 2 else "B")
    visit(9, household="hh-0", moved_away=True, household_size=1, village="B")
    page = get(demo.auth, "cases/?limit=2").json()
    assert page["count"] == 5
    assert [c["case_id"] for c in page["results"]] == ["hh-0", "hh-1"]
    assert page["next"].endswith("limit=2&offset=2") or "offset=2" in page["next"]
    last = Client().get(page["next"], HTTP_AUTHORIZATION=demo.auth).json()
    assert [c["case_id"] for c in last["results"]] == ["hh-2", "hh-3"]
    village = get(demo.auth, "cases/?property.village=A").json()
    assert [c["case_id"] for c in village["results"]] == ["hh-1", "hh-3"]
    sized = get(demo.auth, "cases/?property.size=3").json()  # a number, matched as text
    assert [c["case_id"] for c in sized["results"]] == ["hh-2"]
    closed = get(demo.auth, "cases/?closed=true").json()
    assert [c["case_id"] for c in closed["results"]] == ["hh-0"]
    assert get(demo.auth, "cases/?case_type=person").json()["count"] == 0
    assert get(demo.auth, "cases/?case_type=a%00b").json()["count"] == 0  # NUL matches nothing
    assert get(demo.auth, "cases/?property.village=A%00").json()["count"] == 0
    future = get(demo.auth, "cases/?modified_since=2999-01-01T00:00:00Z").json()
    assert future["count"] == 0
    assert get(demo.auth, "cases/?modified_since=2000-01-01T00:00:00Z").json()["count"] == 5
    for bad in (
        "limit=0",
        "limit=1001",
        "offset=-1",
        "closed=maybe",
        "modified_since=yesterday",
        "property.a-b=1",
        "limit=\u00b2",
        "modified_since=0001-01-01T00:00:00%2B14:00",
        "modified_since=",
        "closed=",
    ):
        response = get(demo.auth, f"cases/?{bad}")
        assert response.status_code == 400, bad
        assert response.json()["field"] == bad.split("=")[0], bad


def test_case_detail_has_its_history(demo) -> None:
    visit(1)
    visit(2, household_size=7)
    case = get(demo.auth, "cases/hh-1/").json()
    assert case["properties"] == {"village": "Kobo", "size": 7}
    assert [(h["submission_id"], h["action"], h["changed"]) for h in case["history"]] == [
        ("s-1", "create", ["size", "village"]),
        ("s-2", "update", ["size"]),
    ]
    missing = get(demo.auth, "cases/nope/")
    assert (missing.status_code, missing.json()["code"]) == (404, "case_not_found")


def test_api_statuses(demo) -> None:
    assert Client().get("/a/demo/api/cases/").status_code == 401
    assert get(demo.outsider_auth, "cases/").status_code == 403
    assert Client().get("/a/zzz/api/forms/", HTTP_AUTHORIZATION=demo.auth).status_code == 404
    posted = Client().post("/a/demo/api/cases/", HTTP_AUTHORIZATION=demo.auth)
    assert (posted.status_code, posted["Allow"]) == (405, "GET, HEAD")
    anonymous = Client(enforce_csrf_checks=True).put("/a/demo/api/forms/")
    assert (anonymous.status_code, anonymous.json()["code"]) == (405, "method_not_allowed")
    listed = get(demo.auth, "forms/").json()
    assert [(f["name"], f["version"]) for f in listed["results"]] == [("household_visit", 1)]
    assert listed["results"][0]["schema"] == SCHEMA


def test_when_applies_a_rule_only_when_its_value_holds(demo) -> None:
    """``when`` (ODK entities' create_if/update_if): the case is touched only when it holds."""
    define(2, "upsert", when="/moved_away", properties={"size": "/household_size"})
    skipped = forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="w-1",
        data={"household_id": "hh-w", "village": "Kobo", "household_size": 3, "moved_away": False},
    )
    assert skipped.cases == []
    assert not Case.objects.filter(case_id="hh-w").exists()
    applied = forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="w-2",
        data={"household_id": "hh-w", "village": "Kobo", "household_size": 3, "moved_away": True},
    )
    assert applied.cases == [{"case_id": "hh-w", "case_type": "household", "action": "create"}]
    assert Case.objects.get(case_id="hh-w").properties == {"size": 3}


def test_when_must_name_data_the_schema_defines(demo) -> None:
    with pytest.raises(forms.InvalidDefinition) as caught:
        define(2, "upsert", when="/nowhere")
    assert [e.field for e in caught.value.errors] == ["/case_rules/0/when"]
