"""OpenRosa and JSON submissions feed the same report; an OpenRosa edit changes its numbers."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from trellis import forms, reports

from .collect import instance
from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

AUTH = "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode()


def post(xml: bytes) -> Any:
    return Client().post(
        "/a/demo/submission",
        {"xml_submission_file": SimpleUploadedFile("s.xml", xml, "text/xml")},
        HTTP_AUTHORIZATION=AUTH,
        HTTP_X_OPENROSA_VERSION="1.0",
    )


def visit(village: str, size: int) -> str:
    return (
        f"<household_id>hh-1</household_id><village>{village}</village>"
        f"<household_size>{size}</household_size>"
    )


def rows() -> dict[str, tuple[int, Any]]:
    result = reports.report_query(domain="demo", slug="sizes", limit=100)
    return {r["village"]: (r["visits"], r["people"]) for r in result.rows}


def test_openrosa_and_json_feed_one_report_and_an_edit_moves_the_numbers(field: Any) -> None:
    reports.report_define(
        domain="demo",
        slug="sizes",
        title="People per village",
        source_topic="form.submitted",
        filters=[{"field": "form", "op": "eq", "value": "household_visit"}],
        group_by=[{"field": "data.village", "as": "village"}],
        aggregates=[
            {"fn": "count", "as": "visits"},
            {"fn": "max", "field": "data.household_size", "as": "people"},
        ],
    )
    reports.report_rebuild(domain="demo", slug="sizes")
    assert (
        post(instance("household_visit", "1", visit("Kobo", 9), instance_id="uuid:1")).status_code
        == 201
    )
    forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="json-1",
        data={"household_id": "hh-2", "village": "Kobo", "household_size": 2},
    )
    assert rows() == {"Kobo": (2, 9)}
    edited = instance(
        "household_visit", "1", visit("Lira", 4), instance_id="uuid:2", deprecated_id="uuid:1"
    )
    assert post(edited).status_code == 201
    assert rows() == {"Kobo": (1, 2), "Lira": (1, 4)}
    reports.report_rebuild(domain="demo", slug="sizes")
    assert rows() == {"Kobo": (1, 2), "Lira": (1, 4)}
