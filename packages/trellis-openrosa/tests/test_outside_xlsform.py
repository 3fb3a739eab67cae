"""XLSForm input found by an outside review."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def form(version: str) -> bytes:
    return f"""
| survey |
|        | type | name | label |
|        | text | note | Note  |
| settings |
|          | form_id | version   |
|          | odd     | {version} |
""".encode()


@pytest.mark.parametrize("version", ["1/../2", "a/b", "a\\b", "-", ".", "..", "1" * 101])
def test_a_version_that_cannot_be_in_a_url_is_refused_at_upload(field: Any, version: str) -> None:
    """The version is a path segment of the download URL: with a '/', the form list of the
    whole domain was a 500 (no URL can be built); '-' is the route's "no version", '.' and
    '..' are removed by clients' URL normalisation, and the column holds 100 characters."""
    from trellis import openrosa
    from trellis.openrosa.models import XForm

    with pytest.raises(openrosa.XLSFormError, match="version"):
        openrosa.xlsform_add(domain="demo", content=form(version), filename="odd.md")
    assert not XForm.objects.filter(form_id="odd").exists()
    listed = Client().get(
        "/a/demo/formList",
        HTTP_AUTHORIZATION=_basic(field),
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    assert listed.status_code == 200


@pytest.mark.parametrize("version", ["2026120701", "v1.2", "1 (2026-12-07)", "é"])
def test_ordinary_versions_are_listed_and_downloaded(field: Any, version: str) -> None:
    from xml.etree import ElementTree

    from trellis import openrosa

    openrosa.xlsform_add(domain="demo", content=form(version), filename="odd.md")
    client = Client()
    headers = {"HTTP_AUTHORIZATION": _basic(field), "HTTP_X_OPENROSA_VERSION": "1.0"}
    listed = client.get("/a/demo/formList", {"formID": "odd"}, **headers)
    assert listed.status_code == 200, listed.content
    url = ElementTree.fromstring(listed.content).findtext(
        ".//{http://openrosa.org/xforms/xformsList}downloadUrl"
    )
    assert url is not None
    downloaded = client.get(url.removeprefix("http://testserver"), **headers)
    assert downloaded.status_code == 200, downloaded.content


def _basic(field: Any) -> str:
    import base64

    return "Basic " + base64.b64encode(f"ada:{field.password}".encode()).decode()


def media_form(image: str) -> bytes:
    return f"""
| survey |
|        | type | name | label | media::image |
|        | note | hi   | Hi    | {image}      |
| settings |
|          | form_id | version |
|          | pics    | 1       |
""".encode()


@pytest.mark.parametrize("name", ["sub/logo.png", "../up.png", 'a"b.png'])
def test_a_media_reference_with_a_directory_is_refused(field: Any, name: str) -> None:
    """A media name with '/' was accepted; once its file was added, the manifest was a 500
    (no download URL can be built for it). Clients keep a form's media in one folder."""
    from trellis import openrosa

    with pytest.raises(openrosa.XLSFormError, match="media"):
        openrosa.xlsform_add(domain="demo", content=media_form(name), filename="pics.md")


def test_a_media_name_with_spaces_is_the_whole_name(field: Any) -> None:
    """``jr://images/my logo.png`` names "my logo.png", not "my"."""
    from trellis import openrosa

    xform = openrosa.xlsform_add(
        domain="demo", content=media_form("my logo.png"), filename="pics.md"
    )
    assert xform.media_names == ["my logo.png"]
    openrosa.media_add(domain="demo", form_id="pics", name="my logo.png", content=b"PNG")
    headers = {"HTTP_AUTHORIZATION": _basic(field), "HTTP_X_OPENROSA_VERSION": "1.0"}
    manifest = Client().get("/a/demo/forms/pics/1/manifest", **headers)
    assert manifest.status_code == 200
    assert b"<filename>my logo.png</filename>" in manifest.content
    got = Client().get("/a/demo/forms/pics/1/media/my%20logo.png", **headers)
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == b"PNG"
