"""Who may download a blob: the blobs_can_read hook, staff-only by default, 404 on refusal."""

from __future__ import annotations

import logging

import pytest

from trellis import blobs

pytestmark = pytest.mark.django_db

GRANTS = """
from trellis.core import hookimpl
TRELLIS_IMPLEMENTS = {"blobs": ">=1.1,<2"}

@hookimpl
def blobs_can_read(user, info):
    if user.get_username() == GRANTED and info.domain == "demo":
        return True
    return None
"""

DENIES = """
from trellis.core import hookimpl
TRELLIS_IMPLEMENTS = {"blobs": ">=1.1,<2"}

@hookimpl
def blobs_can_read(user, info):
    return False if info.key.startswith("secret/") else None
"""

RAISES = """
from trellis.core import hookimpl
TRELLIS_IMPLEMENTS = {"blobs": ">=1.1,<2"}

@hookimpl
def blobs_can_read(user, info):
    raise RuntimeError("membership service down")
"""


def plugin(source: str, name: str, **namespace: object):
    import types

    module = types.ModuleType(name)
    module.__dict__.update(namespace)
    exec(source, module.__dict__)
    return module


@pytest.fixture
def login(client, django_user_model):
    def as_user(username: str, **fields: object):
        client.force_login(django_user_model.objects.create_user(username, **fields))
        return client

    return as_user


def _same_answer(refused, missing) -> None:
    """A refusal must be indistinguishable from an unknown key (modulo key and request id)."""
    assert refused.status_code == missing.status_code == 404
    if refused.request["REQUEST_METHOD"] == "GET":
        body, other = refused.json(), missing.json()
        assert body["code"] == other["code"] == "not_found"
        assert body["field"] == other["field"] == "key"
        assert body["message"].startswith("no blob with key ")
        assert set(body) == set(other)
    ignore = {"X-Request-ID", "Content-Length"}
    assert {k for k in refused.headers if k not in ignore} == {
        k for k in missing.headers if k not in ignore
    }


def test_a_logged_in_user_without_a_grant_gets_404_like_an_unknown_key(put, login):
    put(b"another domain's photo", key="photos/1.jpg", domain="other")
    client = login("field-worker")
    _same_answer(client.get("/blobs/photos/1.jpg"), client.get("/blobs/photos/nope.jpg"))
    _same_answer(client.head("/blobs/photos/1.jpg"), client.head("/blobs/photos/nope.jpg"))


def test_a_refusal_does_not_leak_through_conditional_requests(put, login):
    info = put(b"x", key="photos/2.jpg")
    client = login("field-worker")
    response = client.get("/blobs/photos/2.jpg", HTTP_IF_NONE_MATCH=f'"{info.sha256}"')
    assert response.status_code == 404


def test_staff_may_read_by_default(put, login):
    put(b"report", key="docs/r.txt")
    assert login("manager", is_staff=True).get("/blobs/docs/r.txt").status_code == 200


def test_an_inactive_staff_user_may_not(put):
    from django.contrib.auth.models import User

    info = put(b"report", key="docs/r2.txt")
    user = User(username="gone", is_staff=True, is_active=False)
    assert blobs.can_read(user, info) is False


def test_hook_blobs_can_read(put, login, trellis_register):
    info = put(b"household survey", key="forms/1.xml", domain="demo")
    trellis_register(plugin(GRANTS, "grants", GRANTED="member"), "grants")
    member = login("member")
    response = member.get("/blobs/forms/1.xml")
    assert response.status_code == 200
    assert response.content == b"household survey"  # small blobs are not streamed
    other = put(b"x", key="forms/2.xml", domain="elsewhere")
    assert blobs.can_read(response.wsgi_request.user, info) is True
    assert blobs.can_read(response.wsgi_request.user, other) is False


def test_one_false_denies_even_staff(put, login, trellis_register):
    put(b"s", key="secret/plan.txt")
    trellis_register(plugin(DENIES, "denies"), "denies")
    staff = login("boss", is_staff=True)
    assert staff.get("/blobs/secret/plan.txt").status_code == 404


def test_an_implementation_that_raises_denies_and_is_logged(put, login, trellis_register, caplog):
    put(b"s", key="docs/any.txt")
    trellis_register(plugin(RAISES, "flaky"), "flaky")
    with caplog.at_level(logging.ERROR, logger="trellis.blobs"):
        assert login("boss", is_staff=True).get("/blobs/docs/any.txt").status_code == 404
    (logged,) = [r for r in caplog.records if "blobs_can_read" in r.getMessage()]
    assert "'flaky'" in logged.getMessage() and "docs/any.txt" in logged.getMessage()
