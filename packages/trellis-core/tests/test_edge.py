"""The HTTP edge: request ids everywhere, JSON errors on API mounts, raw text for staff only."""

from __future__ import annotations

import logging
import sys

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from trellis.core.django import valid_request_id

VIEWS = """
from django.http import Http404, JsonResponse
from trellis.core import ProviderFailed, ProviderUnavailable

def boom(request):
    raise RuntimeError("cannot connect to db.internal:5432 as role admin")

def down(request):
    raise ProviderUnavailable("s3 endpoint 10.0.0.1:9000 refused", provider="s3")

def failed(request):
    raise ProviderFailed("EIO reading /srv/blobs/ab/cd", provider="filesystem")

def missing(request):
    raise Http404("no such thing")

def ok(request):
    return JsonResponse({"ok": True})

def own_error(request):
    return JsonResponse({"code": "mine", "message": "m", "field": "x"}, status=409)

from django.http import HttpResponse
from trellis.core.django import protocol_view

@protocol_view
def xml_error(request):
    return HttpResponse("<error>gone</error>", status=410, content_type="text/xml")

@protocol_view
def xml_boom(request):
    raise RuntimeError("secret detail")
"""

URLS = """
from django.urls import path
import edge_api_views as views

app_name = "edge_api"
urlpatterns = [
    path("boom", views.boom),
    path("down", views.down),
    path("failed", views.failed),
    path("missing", views.missing),
    path("ok", views.ok),
    path("own", views.own_error),
    path("xml", views.xml_error),
    path("xmlboom", views.xml_boom),
]
"""

PLUGIN = """
from trellis.core import UrlMount, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1,<2"}

@hookimpl
def core_url_mounts():
    return [UrlMount("edgeapi/", "edge_api_urls", api=True)]
"""

ROOT_URLS = """
from django.contrib import admin
from django.urls import path
from trellis.core.django import plugin_urlpatterns

urlpatterns = [path("admin/", admin.site.urls), *plugin_urlpatterns()]
"""


@pytest.fixture
def api(make_module, trellis_register, settings, monkeypatch):
    """An API mount at /edgeapi/ served by a plugin, and a fresh client (fresh middleware)."""
    for name, source in (("edge_api_views", VIEWS), ("edge_api_urls", URLS)):
        monkeypatch.setitem(sys.modules, name, make_module(source, name))
    trellis_register(make_module(PLUGIN, "edge_api"), "edge_api")
    monkeypatch.setitem(sys.modules, "edge_root_urls", make_module(ROOT_URLS, "edge_root_urls"))
    settings.ROOT_URLCONF = "edge_root_urls"
    return Client(raise_request_exception=False)


def _error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body["request_id"] == response["X-Request-ID"]
    assert set(body) == {"code", "message", "field", "request_id"}
    return body


@pytest.mark.django_db
def test_unexpected_exception_is_json_logged_once_with_the_request_id(api, caplog):
    caplog.set_level(logging.INFO)
    body = _error(api.get("/edgeapi/boom"), 500, "server_error")
    assert "db.internal" not in body["message"]
    assert body["request_id"] in body["message"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].name == "trellis.core.edge"
    assert body["request_id"] in errors[0].getMessage()
    assert errors[0].exc_info is not None


@pytest.mark.django_db
def test_staff_see_the_exception_text(api, admin_user):
    api.force_login(admin_user)
    body = _error(api.get("/edgeapi/boom"), 500, "server_error")
    assert "RuntimeError: cannot connect to db.internal:5432" in body["message"]


@pytest.mark.django_db
def test_provider_failures_map_to_502_and_503_with_a_retry_hint(api):
    down = api.get("/edgeapi/down")
    body = _error(down, 503, "provider_unavailable")
    assert down["Retry-After"] == "30"
    assert body["message"] == "provider 's3' is unavailable; retry after 30 s"
    failed = api.get("/edgeapi/failed")
    body = _error(failed, 502, "provider_failed")
    assert "/srv/blobs" not in body["message"] and "provider 'filesystem'" in body["message"]
    assert not failed.has_header("Retry-After")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status", "code"),
    [("/edgeapi/missing", 404, "not_found"), ("/edgeapi/no/such/path", 404, "not_found")],
)
def test_django_error_pages_on_api_paths_become_json(api, path, status, code):
    _error(api.get(path), status, code)


@pytest.mark.django_db
def test_csrf_refusal_on_an_api_path_is_json(api, admin_user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    _error(strict.post("/edgeapi/ok"), 403, "permission_denied")


@pytest.mark.django_db
def test_a_views_own_json_error_gets_the_request_id(api):
    response = api.get("/edgeapi/own", HTTP_X_REQUEST_ID="trace-42")
    assert response.status_code == 409
    assert response.json() == {
        "code": "mine",
        "message": "m",
        "field": "x",
        "request_id": "trace-42",
    }


@pytest.mark.django_db
def test_pages_outside_api_mounts_keep_html_errors(api):
    response = api.get("/admin/no-such-page/")
    assert response.status_code in {302, 404}
    assert not response.get("Content-Type", "").startswith("application/json")
    assert response.has_header("X-Request-ID")


@pytest.mark.django_db
def test_request_ids_are_echoed_when_valid_and_replaced_when_not(api):
    assert api.get("/edgeapi/ok", HTTP_X_REQUEST_ID="abc-123").headers["X-Request-ID"] == (
        "abc-123"
    )
    for bad in ("abc\n", "a b", "x" * 129, ""):
        rid = api.get("/edgeapi/ok", HTTP_X_REQUEST_ID=bad).headers["X-Request-ID"]
        assert rid != bad and len(rid) == 32 and int(rid, 16) >= 0


ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-"


@given(st.text(alphabet=ALPHABET, min_size=1, max_size=128))
def test_request_ids_in_the_alphabet_are_kept(value):
    assert valid_request_id(value)


@given(st.text(min_size=1, max_size=200))
def test_no_request_id_outside_the_alphabet_is_kept(value):
    if valid_request_id(value):
        assert len(value) <= 128 and set(value) <= set(ALPHABET)


@pytest.mark.django_db
def test_a_protocol_view_keeps_its_own_errors_but_not_its_exceptions(api):
    response = api.get("/edgeapi/xml")
    assert (response.status_code, response.content) == (410, b"<error>gone</error>")
    assert response["X-Request-ID"]
    body = _error(api.get("/edgeapi/xmlboom"), 500, "server_error")
    assert "secret detail" not in body["message"]
