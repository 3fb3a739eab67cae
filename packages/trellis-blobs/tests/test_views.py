"""The download endpoint: authentication, streaming, Range, HEAD, conditional GET, JSON errors."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from trellis.blobs import BlobIntegrityError, filesystem, views
from trellis.blobs.models import BlobMeta

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
CONTENT = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def user_client(client, django_user_model):
    """A staff user: by default (blobs_can_read) only staff may download."""
    client.force_login(django_user_model.objects.create_user("reader", is_staff=True))
    return client


@pytest.fixture
def blob(put):
    return put(
        CONTENT, key="docs/report.pdf", name="Report (final).pdf", content_type="application/pdf"
    )


def body(response) -> bytes:
    if response.streaming:
        try:
            return b"".join(response.streaming_content)
        finally:
            response.close()
    return response.content


def test_url_is_mounted_under_blobs():
    assert reverse("blobs:download", kwargs={"key": "a/b.txt"}) == "/blobs/a/b.txt"


def test_anonymous_users_get_401_json(client, blob):
    response = client.get("/blobs/docs/report.pdf")
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "log in to download blobs",
        "field": None,
        "request_id": response["X-Request-ID"],
    }
    assert response["WWW-Authenticate"].startswith("Session")


def test_download_sends_content_and_headers(user_client, blob):
    response = user_client.get("/blobs/docs/report.pdf")
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(CONTENT))
    assert response["ETag"] == f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == 'attachment; filename="Report (final).pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "private" in response["Cache-Control"]


def test_filename_defaults_to_the_last_key_segment_and_non_ascii_is_encoded(user_client, put):
    put(b"x", key="a/b/notes.txt")
    assert user_client.get("/blobs/a/b/notes.txt")["Content-Disposition"] == (
        'attachment; filename="notes.txt"'
    )
    put(b"x", key="u", name="résumé.txt")
    assert user_client.get("/blobs/u")["Content-Disposition"] == (
        "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt"
    )


def test_large_blob_is_streamed(user_client, put):
    content = bytes(range(256)) * (12 * 1024)  # 3 MiB
    put(content, key="large")
    response = user_client.get("/blobs/large")
    assert response.streaming
    assert response["Content-Length"] == str(len(content))
    assert body(response) == content


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=1000-", 1000, 1024),
        ("bytes=-24", 1000, 1024),
        ("bytes=-5000", 0, 1024),
        ("bytes=1000-99999", 1000, 1024),
        ("BYTES = 5 - 5", 5, 6),
    ],
)
def test_single_range_gives_206(user_client, blob, header, start, stop):
    response = user_client.get("/blobs/docs/report.pdf", headers={"Range": header})
    assert response.status_code == 206
    assert body(response) == CONTENT[start:stop]
    assert response["Content-Range"] == f"bytes {start}-{stop - 1}/1024"
    assert response["Content-Length"] == str(stop - start)


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=x-", "bytes=-"]
)
def test_ranges_we_do_not_serve_are_ignored(user_client, blob, header):
    response = user_client.get("/blobs/docs/report.pdf", headers={"Range": header})
    assert response.status_code == 200
    assert body(response) == CONTENT


def test_range_of_a_large_streamed_blob(user_client, put):
    content = bytes(range(256)) * (12 * 1024)
    put(content, key="large")
    start, end = 2 * MiB - 10, 2 * MiB + 10
    response = user_client.get("/blobs/large", headers={"Range": f"bytes={start}-{end}"})
    assert response.status_code == 206
    assert body(response) == content[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_gives_416(user_client, blob, header):
    response = user_client.get("/blobs/docs/report.pdf", headers={"Range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */1024"
    assert response.json()["code"] == "range_not_satisfiable"
    assert response.json()["field"] == "Range"


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=0-0", "bytes=-0"])
def test_ranges_of_an_empty_blob_that_start_in_it_are_unsatisfiable(user_client, put, header):
    put(b"", key="empty")
    assert user_client.get("/blobs/empty").content == b""
    response = user_client.get("/blobs/empty", headers={"Range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */0"


def test_a_suffix_range_of_an_empty_blob_sends_the_empty_blob(user_client, put):
    put(b"", key="empty")
    response = user_client.get("/blobs/empty", headers={"Range": "bytes=-5"})
    assert response.status_code == 200  # satisfiable (RFC 9110 14.1.1), yet no byte to send
    assert body(response) == b""
    assert response["Content-Length"] == "0"
    assert not response.has_header("Content-Range")


def test_if_range_with_another_etag_sends_everything(user_client, blob):
    response = user_client.get(
        "/blobs/docs/report.pdf", headers={"Range": "bytes=0-9", "If-Range": '"stale"'}
    )
    assert response.status_code == 200
    assert body(response) == CONTENT
    etag = f'"{blob.sha256}"'
    response = user_client.get(
        "/blobs/docs/report.pdf", headers={"Range": "bytes=0-9", "If-Range": etag}
    )
    assert response.status_code == 206


@pytest.mark.parametrize("header", ["bytes=5000-", "bytes=-0"])
def test_if_range_with_another_etag_ignores_even_an_unsatisfiable_range(user_client, blob, header):
    response = user_client.get(
        "/blobs/docs/report.pdf", headers={"Range": header, "If-Range": '"stale"'}
    )
    assert response.status_code == 200  # RFC 9110 13.1.5: If-Range first, then Range
    assert body(response) == CONTENT
    response = user_client.get(
        "/blobs/docs/report.pdf", headers={"Range": header, "If-Range": f'"{blob.sha256}"'}
    )
    assert response.status_code == 416


def test_if_range_with_a_date_or_a_weak_etag_sends_everything(user_client, blob):
    for validator in ("Sat, 01 Jan 2000 00:00:00 GMT", f'W/"{blob.sha256}"'):
        response = user_client.get(
            "/blobs/docs/report.pdf", headers={"Range": "bytes=0-9", "If-Range": validator}
        )
        assert response.status_code == 200
        assert body(response) == CONTENT


def test_if_none_match_gives_304(user_client, blob):
    response = user_client.get(
        "/blobs/docs/report.pdf", headers={"If-None-Match": f'W/"x", "{blob.sha256}"'}
    )
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{blob.sha256}"'


def test_head_sends_headers_only(user_client, blob):
    response = user_client.head("/blobs/docs/report.pdf")
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == "1024"
    assert response["Content-Type"] == "application/pdf"


@pytest.mark.parametrize("header", ["bytes=0-99", "bytes=5000-"])
def test_head_ignores_range(user_client, blob, header):
    response = user_client.head("/blobs/docs/report.pdf", headers={"Range": header})
    assert response.status_code == 200  # RFC 9110 14.2: only GET honours Range
    assert response["Content-Length"] == "1024"
    assert not response.has_header("Content-Range")


def test_other_methods_get_405_json(user_client, blob):
    response = user_client.post("/blobs/docs/report.pdf")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", ["post", "delete", "put", "patch"])
def test_unsafe_methods_get_405_json_even_with_csrf_checks_on(method, django_user_model, blob):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # as a browser or curl meets the site
    client.force_login(django_user_model.objects.create_user("writer", is_staff=True))
    response = getattr(client, method)("/blobs/docs/report.pdf")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"
    assert BlobMeta.objects.filter(key="docs/report.pdf").exists()


def test_head_of_a_blob_whose_content_is_missing_is_500_like_get(user_client, blob):
    filesystem.path_for(blob.key).unlink()
    head = user_client.head("/blobs/docs/report.pdf")
    get = user_client.get("/blobs/docs/report.pdf")
    assert (head.status_code, get.status_code) == (500, 500)
    assert get.json()["code"] == "integrity_error"


def test_head_of_a_damaged_small_blob_is_500(user_client, blob):
    filesystem.path_for(blob.key).write_bytes(b"\x00" * 1024)
    assert user_client.head("/blobs/docs/report.pdf").status_code == 500


@pytest.mark.parametrize("header", ["bytes=0-", f"bytes=0-{3 * MiB - 1}", f"bytes=-{3 * MiB}"])
def test_a_range_covering_a_damaged_large_blob_is_verified(user_client, put, header):
    content = b"a" * (3 * MiB)
    put(content, key="large")
    filesystem.path_for("large").write_bytes(b"a" * (3 * MiB - 1) + b"b")
    response = user_client.get("/blobs/large", headers={"Range": header})
    assert response.status_code == 206
    received: list[bytes] = []
    with pytest.raises(BlobIntegrityError, match="sha256"):
        received.extend(response.streaming_content)
    response.close()
    assert sum(map(len, received)) < len(content)  # never the whole damaged body


@pytest.mark.parametrize("damage", ["directory", "symlink"])
def test_damaged_storage_is_an_integrity_error_json(user_client, blob, put, damage):
    other = put(b"another blob", key="other")
    path = filesystem.path_for(blob.key)
    path.unlink()
    if damage == "directory":
        path.mkdir()
    else:
        path.symlink_to(filesystem.path_for(other.key))  # inside the root, but not this blob's
    response = user_client.get("/blobs/docs/report.pdf")
    assert response.status_code == 500
    assert response.json()["code"] == "integrity_error"
    assert response["Content-Type"] == "application/json"
    with pytest.raises(BlobIntegrityError, match=r"docs/report\.pdf"):
        blobs_read(blob.key)


def blobs_read(key: str) -> bytes:
    from trellis import blobs

    return blobs.read_bytes(key)


def test_missing_blob_gives_404_json(user_client):
    response = user_client.get("/blobs/no/such/key")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "no blob with key 'no/such/key'",
        "field": "key",
        "request_id": response["X-Request-ID"],
    }


@pytest.mark.parametrize("path", ["/blobs/a/../b", "/blobs/a%00b", "/blobs/a%20b", "/blobs/a//b"])
def test_bad_key_gives_400_json(user_client, path):
    response = user_client.get(path)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_key"
    assert response.json()["field"] == "key"


def test_damaged_small_blob_gives_500_json(user_client, blob, caplog):
    path = filesystem.path_for(blob.key)
    path.write_bytes(b"\x00" * 1024)
    response = user_client.get("/blobs/docs/report.pdf")
    assert response.status_code == 500
    assert response.json()["code"] == "integrity_error"
    assert "sha256" in response.json()["message"]
    assert "refused" in caplog.text


def test_damaged_large_blob_is_cut_short(user_client, put):
    content = b"a" * (3 * MiB)
    put(content, key="large")
    filesystem.path_for("large").write_bytes(b"a" * (3 * MiB - 1) + b"b")
    response = user_client.get("/blobs/large")
    assert response.status_code == 200  # headers were sent before the end was read
    received: list[bytes] = []
    with pytest.raises(BlobIntegrityError, match="sha256"):
        received.extend(response.streaming_content)
    response.close()
    assert sum(map(len, received)) < len(content)  # the client sees a failed transfer


def blob_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "trellis_blobs_blobmeta" in q["sql"]]


@pytest.mark.parametrize("size", [10, 3 * MiB])
def test_a_download_reads_the_metadata_once(user_client, put, size):
    put(b"x" * size, key="once")
    with CaptureQueriesContext(connection) as queries:
        assert body(user_client.get("/blobs/once")) == b"x" * size
    assert len(blob_queries(queries.captured_queries)) == 1


@pytest.fixture
def replaced_after_its_metadata_is_read(monkeypatch, put):
    """The view reads a blob's metadata, then the blob is deleted and stored again."""
    real = views.blob_get_info
    replaced: list[str] = []

    def read_then_replace(key):
        info = real(key)
        if not replaced:
            replaced.append(key)
            BlobMeta.objects.filter(key=key).delete()
            filesystem.path_for(key).unlink()
            put(b"Z" * info.length, key=key, name="other.bin")
        return info

    monkeypatch.setattr(views, "blob_get_info", read_then_replace)
    return replaced


def test_a_blob_replaced_during_a_download_fails_cleanly(
    user_client, blob, replaced_after_its_metadata_is_read
):
    response = user_client.get("/blobs/docs/report.pdf")
    assert replaced_after_its_metadata_is_read == ["docs/report.pdf"]
    assert response.status_code == 409
    assert response.json()["code"] == "blob_changed"
    assert response.json()["field"] == "key"
    assert "request it again" in response.json()["message"]
