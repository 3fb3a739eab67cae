"""One test per hook of the ``reports`` contract, through a real host."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User

from trellis.core import hookimpl
from trellis.reports import Source, hookspecs, report_can_view, sources

from .conftest import TOPIC, FakeForms

pytestmark = pytest.mark.django_db


def test_contract_and_hook_kinds(reports_host: Any) -> None:
    assert (hookspecs.CONTRACT.name, hookspecs.CONTRACT.version) == ("reports", "1.1.0")
    kinds = {h.name: h.kind for h in reports_host.hooks() if h.contract == "reports"}
    assert kinds == {"reports_sources": "extension", "reports_can_view": "extension"}


def test_hook_reports_sources(reports_host: Any, forms: FakeForms, trellis_register: Any) -> None:
    [given] = [
        s for name, s in reports_host.collect_by_plugin("reports_sources") if name == "fake-forms"
    ]
    assert [(s.topic, s.id_field) for s in given] == [(TOPIC, "submission_id")]
    forms.records.append({"domain": "demo", "submission_id": "s1"})
    assert list(sources()[TOPIC].records("demo")) == forms.records

    class Late:
        TRELLIS_IMPLEMENTS = {"reports": ">=1.0,<2"}

        @hookimpl
        def reports_sources(self) -> list[Source]:
            return [
                Source(TOPIC, "other_id", lambda domain: []),
                Source("case.changed", "change_id", lambda domain: []),
            ]

    class Broken:
        TRELLIS_IMPLEMENTS = {"reports": ">=1.0,<2"}

        @hookimpl
        def reports_sources(self) -> list[object]:
            return ["not a source"]

    trellis_register(Late(), "late", host=reports_host)
    trellis_register(Broken(), "broken", host=reports_host)
    found = sources()
    assert found[TOPIC].id_field == "submission_id", "the first source of a topic wins"
    assert set(found) == {TOPIC, "case.changed"}, "a broken plugin gives none"


def test_hook_reports_can_view(reports_host: Any, forms: FakeForms) -> None:
    mia = User.objects.create_user("mia")
    staff = User.objects.create_user("sam", is_staff=True)

    def answers() -> dict[str, Any]:
        return dict(reports_host.collect_by_plugin("reports_can_view", user=mia, domain="demo"))

    assert answers() == {}, "None abstains"
    assert not report_can_view(mia, "demo"), "no plugin said yes"
    forms.viewers["demo"] = {"mia"}
    assert answers() == {"fake-forms": True}
    assert report_can_view(mia, "demo")
    assert not report_can_view(mia, "other")
    forms.denied["demo"] = {"mia"}
    assert not report_can_view(mia, "demo"), "any False denies"
    forms.denied["demo"] = {"sam"}
    assert report_can_view(staff, "demo"), "active staff always may"
    staff.is_active = False
    assert not report_can_view(staff, "demo")
    assert not report_can_view(AnonymousUser(), "demo")
