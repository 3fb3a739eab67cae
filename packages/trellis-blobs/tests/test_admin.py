"""The read-only admin for blob metadata."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/trellis_blobs/blobmeta/"


def test_changelist_search_and_filters(admin_client, put):
    put(b"x", key="forms/1/photo.jpg", parent_id="form-1", name="photo.jpg")
    put(b"y", key="forms/2/sound.ogg", parent_id="form-2", name="sound.ogg")
    page = admin_client.get(CHANGELIST)
    assert page.status_code == 200
    assert b"forms/1/photo.jpg" in page.content and b"forms/2/sound.ogg" in page.content
    found = admin_client.get(CHANGELIST, {"q": "form-2"})
    assert b"forms/2/sound.ogg" in found.content and b"forms/1/photo.jpg" not in found.content
    assert admin_client.get(CHANGELIST, {"domain": "demo"}).status_code == 200
    assert admin_client.get(CHANGELIST, {"expires__isempty": "1"}).status_code == 200


def test_rows_are_read_only(admin_client, put):
    from trellis.blobs.models import BlobMeta

    put(b"x", key="k")
    row = BlobMeta.objects.get(key="k")
    detail = admin_client.get(f"{CHANGELIST}{row.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert BlobMeta.objects.filter(key="k").exists()
