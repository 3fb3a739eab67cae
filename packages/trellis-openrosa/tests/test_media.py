"""Media downloads stream from trellis-blobs and close what they open."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from trellis import blobs, openrosa

from .conftest import IMAGES, PASSWORD

pytestmark = pytest.mark.django_db

AUTH = "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode()


def test_a_media_download_closes_its_blob_reader(field: Any, monkeypatch: Any) -> None:
    openrosa.xlsform_add(domain="demo", content=IMAGES.encode(), filename="site.md")
    openrosa.media_add(
        domain="demo", form_id="site_photo", name="logo.png", content=b"\x89PNG" * 1000
    )
    opened: list[Any] = []
    original = blobs.open_blob

    def tracked(key: str) -> Any:
        opened.append(original(key))
        return opened[-1]

    monkeypatch.setattr(blobs, "open_blob", tracked)
    response = Client().get(
        "/a/demo/forms/site_photo/1/media/logo.png",
        HTTP_AUTHORIZATION=AUTH,
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG" * 1000
    response.close()
    assert [reader.closed for reader in opened] == [True]
