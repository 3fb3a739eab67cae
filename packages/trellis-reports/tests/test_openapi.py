"""The API keeps to its OpenAPI part: schemathesis generates requests for both endpoints from
the document and checks every answer (no 5xx; documented status, content type and schema)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from trellis.reports import report_define
from trellis.reports._openapi import openapi

from .conftest import VISITS, FakeForms, payload

DOCUMENT = {"openapi": "3.1.0", "info": {"title": "trellis-reports", "version": "1.0"}, **openapi()}
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture
def session(reports_host: Any, forms: FakeForms, client: Any) -> dict[str, str]:
    """A staff session cookie, with a report of five rows to read."""
    report_define(domain="demo", slug="visits", title="Visits", **VISITS)
    for n in range(5):
        forms.deliver(payload("demo", f"s{n}", {"village": f"v{n}", "household_size": n}))
    client.force_login(User.objects.create_user("sam", is_staff=True))
    return {"sessionid": client.cookies["sessionid"].value}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_answers_keep_to_the_document(case: Any, session: dict[str, str]) -> None:
    app = get_wsgi_application()
    if case.method != "GET":  # schemathesis also tries methods the document does not list
        assert case.call(app=app, cookies=session).status_code == 405
        return
    anonymous = case.call_and_validate(app=app)
    assert anonymous.status_code == 401
    generated = case.call_and_validate(app=app, cookies=session)
    assert generated.status_code in {200, 400, 404}
    case.path_parameters["domain"] = "demo"
    if "slug" in case.path_parameters:
        case.path_parameters["slug"] = "visits"
    real = case.call_and_validate(app=app, cookies=session)
    assert real.status_code in {200, 400}, "an existing report, read by staff"
