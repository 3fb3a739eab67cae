"""API keys: shown once, stored as sha256, checked by the middleware for any request."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from trellis import forms
from trellis.forms.models import ApiKey

pytestmark = pytest.mark.django_db


def test_a_key_is_stored_only_as_its_sha256(demo, django_user_model) -> None:
    user = django_user_model.objects.create_user("bob")
    created = forms.api_key_create(user=user, name="tablet")
    assert len(created.secret) >= 43
    row = ApiKey.objects.get(pk=created.api_key.pk)
    assert row.digest == hashlib.sha256(created.secret.encode()).hexdigest()
    assert created.secret not in {str(v) for v in row.__dict__.values()}
    assert created.authorization == f"ApiKey bob:{created.secret}"
    assert str(created) == created.secret  # printed once, on purpose
    assert created.secret not in repr(created)  # never in a log line or a traceback


@pytest.mark.parametrize(
    "header",
    [
        "ApiKey ",
        "ApiKey nocolon",
        "ApiKey ada:",
        "ApiKey :secret",
        "apikey ada:wrong",
        "ApiKey eve:x",
    ],
)
def test_malformed_or_wrong_keys_are_401_on_any_path(demo, header) -> None:
    for path in ("/a/demo/api/forms/", "/admin/", "/no/such/page"):
        response = Client().get(path, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, (path, header)
        assert response["WWW-Authenticate"] == "ApiKey"
        assert response.json()["code"] == "not_authenticated"
        assert response.json()["field"] == "Authorization"


def test_a_key_of_another_user_or_a_revoked_key_is_refused(demo) -> None:
    secret = demo.auth.split(":", 1)[1]
    assert (
        Client().get("/a/demo/api/forms/", HTTP_AUTHORIZATION=f"ApiKey eve:{secret}").status_code
        == 401
    )
    assert Client().get("/a/demo/api/forms/", HTTP_AUTHORIZATION=demo.auth).status_code == 200
    forms.api_key_revoke(api_key=ApiKey.objects.get(user=demo.user))
    assert Client().get("/a/demo/api/forms/", HTTP_AUTHORIZATION=demo.auth).status_code == 401


def test_an_inactive_user_is_refused(demo) -> None:
    demo.user.is_active = False
    demo.user.save()
    assert Client().get("/a/demo/api/forms/", HTTP_AUTHORIZATION=demo.auth).status_code == 401


def test_other_schemes_pass_through_and_session_login_reads(demo) -> None:
    anonymous = Client().get("/a/demo/api/forms/", HTTP_AUTHORIZATION="Bearer something")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "ApiKey"  # the view's answer, not the middleware's
    client = Client()
    client.force_login(demo.user)
    assert client.get("/a/demo/api/forms/").status_code == 200
    assert client.get("/a/other/api/forms/").status_code == 403


def test_staff_see_every_domain(demo, django_user_model) -> None:
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    auth = forms.api_key_create(user=staff, name="ops").authorization
    assert Client().get("/a/other/api/forms/", HTTP_AUTHORIZATION=auth).status_code == 200


def test_membership_can_be_removed(demo) -> None:
    assert forms.member_remove(domain="demo", user=demo.user)
    assert Client().get("/a/demo/api/forms/", HTTP_AUTHORIZATION=demo.auth).status_code == 403
    assert not forms.member_remove(domain="demo", user=demo.user)


def test_the_admin_shows_a_new_secret_once(demo, django_user_model) -> None:
    root = django_user_model.objects.create_superuser("root", "r@example.org", None)
    client = Client()
    client.force_login(root)
    response = client.post(
        "/admin/trellis_forms/apikey/add/",
        {"user": demo.user.pk, "name": "from admin"},
        follow=True,
    )
    page = response.content.decode()
    assert "Authorization: ApiKey ada:" in page
    secret = page.split("Authorization: ApiKey ada:", 1)[1].split()[0].split("<")[0]
    row = ApiKey.objects.get(name="from admin")
    assert row.digest == hashlib.sha256(secret.encode()).hexdigest()
    again = client.get(f"/admin/trellis_forms/apikey/{row.pk}/change/").content.decode()
    assert secret not in again and row.digest not in again
    used = Client().get("/a/demo/api/forms/", HTTP_AUTHORIZATION=f"ApiKey ada:{secret}")
    assert used.status_code == 200
