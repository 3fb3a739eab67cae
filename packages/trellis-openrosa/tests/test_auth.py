"""Authentication on OpenRosa routes: Digest (requests' implementation as the client),
replays, stale nonces, Basic (refused over plain HTTP in production), API keys."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from django.test import Client
from requests.auth import HTTPDigestAuth
from requests.utils import parse_dict_header

from trellis import forms
from trellis.openrosa import auth

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

URL = "http://testserver/a/demo/formList"


def challenge(client: Client) -> dict[str, str]:
    response = client.get("/a/demo/formList", HTTP_X_OPENROSA_VERSION="1.0")
    assert response.status_code == 401
    scheme, _, rest = response["WWW-Authenticate"].partition(" ")
    assert scheme == "Digest"
    return dict(parse_dict_header(rest))


def answer(chal: dict[str, str], password: str = PASSWORD, user: str = "ada") -> HTTPDigestAuth:
    digest = HTTPDigestAuth(user, password)
    digest.init_per_thread_state()
    digest._thread_local.chal = chal
    return digest


def get(client: Client, header: str) -> Any:
    return client.get("/a/demo/formList", HTTP_AUTHORIZATION=header, HTTP_X_OPENROSA_VERSION="1.0")


def test_digest_signs_in_and_a_replayed_answer_is_refused(field: Any) -> None:
    client = Client()
    digest = answer(challenge(client))
    first = digest.build_digest_header("GET", URL)
    assert get(client, first).status_code == 200
    replay = get(client, first)
    assert replay.status_code == 401
    assert b"used before" in replay.content
    assert get(client, digest.build_digest_header("GET", URL)).status_code == 200  # nc 2


def test_a_wrong_password_a_forged_nonce_and_another_uri_are_refused(field: Any) -> None:
    client = Client()
    chal = challenge(client)
    assert get(client, answer(chal, "wrong").build_digest_header("GET", URL)).status_code == 401
    forged = answer({**chal, "nonce": "1.2.3"}).build_digest_header("GET", URL)
    assert b"not issued here" in get(client, forged).content
    other = answer(chal).build_digest_header("GET", "http://testserver/a/other/formList")
    assert b"another URI" in get(client, other).content


def test_an_old_nonce_is_stale(field: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    chal = challenge(client)
    later = time.time() + auth._settings.NONCE_SECONDS + 5
    monkeypatch.setattr(auth.time, "time", lambda: later)
    response = get(client, answer(chal).build_digest_header("GET", URL))
    assert response.status_code == 401
    assert "stale=true" in response["WWW-Authenticate"]


def test_digest_needs_a_recorded_credential(field: Any, django_user_model: Any) -> None:
    forms.member_add(
        domain="demo", user=django_user_model.objects.create_user("bo", password="pw pw pw")
    )
    client = Client()
    response = get(
        client, answer(challenge(client), "pw pw pw", "bo").build_digest_header("GET", URL)
    )
    assert response.status_code == 401
    assert b"must set it again" in response.content
    # a first Basic sign-in records it (the password is at hand then)
    basic = "Basic " + base64.b64encode(b"bo:pw pw pw").decode()
    assert get(client, basic).status_code == 200
    chal = challenge(client)
    assert (
        get(client, answer(chal, "pw pw pw", "bo").build_digest_header("GET", URL)).status_code
        == 200
    )


def test_the_password_command_records_digest(
    field: Any, django_user_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.management import call_command

    user = django_user_model.objects.create_user("cy")
    forms.member_add(domain="demo", user=user)
    monkeypatch.setenv("TRELLIS_OPENROSA_PASSWORD", "a long pass phrase")
    call_command("openrosa_password", "cy")
    client = Client()
    header = answer(challenge(client), "a long pass phrase", "cy").build_digest_header("GET", URL)
    assert get(client, header).status_code == 200


def test_basic_is_refused_over_plain_http_in_production(field: Any, settings: Any) -> None:
    basic = "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode()
    settings.TRELLIS_PROFILE = "production"
    response = get(Client(), basic)
    assert response.status_code == 401
    assert b"refused over plain HTTP" in response.content
    secure = Client().get(
        "/a/demo/formList", HTTP_AUTHORIZATION=basic, HTTP_X_OPENROSA_VERSION="1.0", secure=True
    )
    assert secure.status_code == 200


def test_an_api_key_works_and_a_bad_one_gets_an_openrosa_challenge(field: Any) -> None:
    key = forms.api_key_create(user=field.worker, name="tablet")
    assert get(Client(), key.authorization).status_code == 200
    refused = get(Client(), "ApiKey ada:nope")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Digest ")
    assert b"<OpenRosaResponse" in refused.content
    assert refused["X-OpenRosa-Version"] == "1.0"
    # elsewhere under /a/ a bad key is still trellis-forms' JSON answer
    json_refusal = Client().get("/a/demo/api/forms/", HTTP_AUTHORIZATION="ApiKey ada:nope")
    assert (json_refusal.status_code, json_refusal["WWW-Authenticate"]) == (401, "ApiKey")


@pytest.mark.parametrize(
    "header",
    [
        "Digest",
        'Digest username="ada"',
        'Digest username="ada", realm="trellis", nonce="x", uri="/", response="zz", nc=1, '
        'cnonce="c"',
        'Digest username="a", username="b"',
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
        "Digest " + "a" * 5000,
    ],
)
def test_malformed_credentials_get_a_challenge_not_an_error(field: Any, header: str) -> None:
    response = get(Client(), header)
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Digest ")


def test_a_first_admin_login_records_digest(field: Any, django_user_model: Any) -> None:
    django_user_model.objects.create_superuser("root", password="root pass phrase")
    client = Client()
    chal = challenge(client)
    refused = get(client, answer(chal, "root pass phrase", "root").build_digest_header("GET", URL))
    assert refused.status_code == 401
    login = Client().post(
        "/admin/login/?next=/admin/", {"username": "root", "password": "root pass phrase"}
    )
    assert login.status_code == 302
    header = answer(challenge(client), "root pass phrase", "root").build_digest_header("GET", URL)
    assert get(client, header).status_code == 200
