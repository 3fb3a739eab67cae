"""The hooks the ``forms`` plugin implements, each through a real host (and the dashboard)."""

from __future__ import annotations

import pytest
from django.test import Client

from trellis import forms
from trellis.core import Link, UrlMount
from trellis.core.testing import isolated_host
from trellis.events import Topic
from trellis.forms import plugin

pytestmark = pytest.mark.django_db


@pytest.fixture
def host():  # type: ignore[no-untyped-def]
    built = isolated_host(discover=True)
    [record] = [r for r in built.plugins() if r.name == "forms"]
    assert (record.status, record.module) == ("active", "trellis.forms.plugin"), record.reason
    return built


def test_hook_core_django_apps(host) -> None:
    assert ["trellis.forms"] in host.collect("core_django_apps")


def test_hook_core_django_middleware(host) -> None:
    assert ["trellis.forms.middleware.ApiKeyMiddleware"] in host.collect("core_django_middleware")
    from django.conf import settings

    assert "trellis.forms.middleware.ApiKeyMiddleware" in settings.MIDDLEWARE


def test_hook_core_url_mounts(host) -> None:
    assert [UrlMount("a/", "trellis.forms.urls", "forms", api=True)] in host.collect(
        "core_url_mounts"
    )


def test_hook_events_topics(host) -> None:
    assert [Topic(t.name, t.description) for t in plugin.TOPICS] in host.collect("events_topics")
    assert {t.name for t in plugin.TOPICS} == {"form.submitted", "case.changed"}


def test_hook_blobs_can_read(host, demo) -> None:
    from django.utils import timezone

    from trellis.blobs import BlobInfo

    info = BlobInfo("k", "demo", "s", 1, "n", "image/png", 1, "0" * 64, timezone.now(), None)
    answers = dict(host.collect_by_plugin("blobs_can_read", user=demo.user, info=info))
    assert answers["forms"] is True
    others = host.collect("blobs_can_read", user=demo.outsider, info=info)
    assert True not in others and False not in others


def test_hook_core_dashboard_panels(host, demo, django_user_model) -> None:
    forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="s-1",
        data={"household_id": "h", "village": "v", "household_size": 1},
    )
    [panels] = [p for p in host.collect("core_dashboard_panels") if p and p[0].title == "Domains"]
    [panel] = panels
    rows = {row[0]: row for row in panel.rows()}
    assert sorted(rows) == ["demo", "other"]
    _, members, definitions, submissions, cases = rows["demo"]
    assert all(isinstance(cell, Link) for cell in (members, definitions, submissions, cases))
    assert (members.text, definitions.text, submissions.text, cases.text) == ("1", "1", "1", "1")
    assert submissions.href.startswith("/admin/trellis_forms/submission/?domain__id__exact=")
    staff = django_user_model.objects.create_superuser("root", "r@example.org", None)
    client = Client()
    client.force_login(staff)
    page = client.get("/").content.decode()
    assert "Domains" in page and f'href="{submissions.href}"' in page.replace("&amp;", "&")
    listing = client.get(submissions.href)
    assert listing.status_code == 200 and "s-1" in listing.content.decode()
    case = client.get(cases.href)
    assert case.status_code == 200 and "household" in case.content.decode()


def test_hook_core_openapi(host) -> None:
    parts = host.collect("core_openapi")
    [mine] = [p for p in parts if "/a/{domain}/receiver/" in p.get("paths", {})]
    assert set(mine["paths"]) == {
        "/a/{domain}/receiver/",
        "/a/{domain}/api/cases/",
        "/a/{domain}/api/cases/{case_id}/",
        "/a/{domain}/api/forms/",
    }
    scheme = mine["components"]["securitySchemes"]["FormsApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


def test_admin_pages_of_submissions_and_cases_are_read_only(demo, django_user_model) -> None:
    forms.submit(
        domain="demo",
        form="household_visit",
        submission_id="s-1",
        data={"household_id": "h", "village": "v", "household_size": 1},
    )
    from trellis.forms.models import Case, Submission

    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", None))
    case = Case.objects.get()
    page = client.get(f"/admin/trellis_forms/case/{case.pk}/change/")
    assert page.status_code == 200 and "case change" in page.content.decode().lower()
    assert client.get("/admin/trellis_forms/case/add/").status_code == 403
    submission = Submission.objects.get()
    assert client.get(f"/admin/trellis_forms/submission/{submission.pk}/change/").status_code == 200
    assert (
        client.post(f"/admin/trellis_forms/submission/{submission.pk}/delete/").status_code == 403
    )
