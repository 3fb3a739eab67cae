"""A failing blob store surfaces as typed errors, and as JSON 502/503 at the download endpoint."""

from __future__ import annotations

import io

import pytest

from trellis import blobs
from trellis.core import ProviderFailed, ProviderUnavailable

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_unreachable_s3_raises_blob_store_unavailable(unreachable_s3):
    with pytest.raises(
        blobs.BlobStoreUnavailable, match="provider 's3' failed while storing"
    ) as info:
        blobs.put(b"x", domain="demo", parent_id="form-1", type_code=1)
    error = info.value
    assert isinstance(error, ProviderUnavailable) and isinstance(error, blobs.BlobError)
    assert error.provider == "s3" and error.retry_after == 30
    assert "EndpointConnectionError" in str(error)
    assert "testing-secret-value" not in str(error)
    assert not blobs.list_blobs(parent_id="form-1")  # nothing half-written


def test_a_hanging_s3_server_is_a_typed_timeout_after_the_configured_attempts(hanging_s3):
    with pytest.raises(blobs.BlobStoreTimeout, match="provider 's3' failed while storing") as info:
        blobs.put(b"x", domain="demo", parent_id="form-1", type_code=1)
    error = info.value
    assert isinstance(error, blobs.BlobStoreUnavailable) and isinstance(error, ProviderUnavailable)
    assert "ReadTimeoutError" in str(error)
    assert len(hanging_s3) == 2  # TRELLIS_BLOBS_S3_MAX_ATTEMPTS=2: one retry, then given up
    assert not blobs.list_blobs(parent_id="form-1")


def test_a_download_from_a_hanging_s3_server_is_503_json(admin_client, hanging_s3):
    from trellis.blobs.models import BlobMeta

    BlobMeta.objects.create(
        key="photos/1.jpg",
        domain="demo",
        parent_id="form-1",
        type_code=1,
        length=1,
        sha256="0" * 64,
    )
    response = admin_client.get("/blobs/photos/1.jpg")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "provider_unavailable"
    assert "ReadTimeoutError" in response.json()["message"]  # staff see the cause


def test_credentials_in_an_endpoint_url_stay_out_of_the_message(unreachable_s3, monkeypatch):
    import os

    endpoint = os.environ["TRELLIS_BLOBS_S3_ENDPOINT_URL"]
    monkeypatch.setenv(
        "TRELLIS_BLOBS_S3_ENDPOINT_URL", endpoint.replace("//", "//proxy-user:proxy-pass@")
    )
    with pytest.raises(blobs.BlobStoreUnavailable) as raised:
        blobs.put(b"x", domain="demo", parent_id="form-1", type_code=1)
    assert "EndpointConnectionError" in str(raised.value)
    assert "proxy-pass" not in str(raised.value) and "proxy-user" not in str(raised.value)
    assert endpoint.removeprefix("http://") in str(raised.value)  # where it went is kept


def test_an_s3_server_that_stops_makes_reads_and_writes_unavailable(stoppable_s3):
    info = blobs.put(b"household survey", domain="demo", parent_id="form-1", type_code=1)
    assert blobs.read_bytes(info.key) == b"household survey"
    stoppable_s3()  # the server process ends; the metadata stays in SQL
    assert blobs.get_info(info.key) == info
    with pytest.raises(blobs.BlobStoreUnavailable, match="provider 's3' failed while opening"):
        blobs.open_blob(info.key)
    with pytest.raises(blobs.BlobStoreUnavailable, match="provider 's3' failed while storing"):
        blobs.put(b"x", domain="demo", parent_id="form-2", type_code=1)
    assert [b.key for b in blobs.list_blobs(parent_id="form-2")] == []


def test_a_stopped_s3_server_is_a_typed_error_naming_the_provider(stoppable_s3):
    info = blobs.put(b"household survey", domain="demo", parent_id="form-1", type_code=1)
    stoppable_s3()
    with pytest.raises(blobs.BlobStoreUnavailable) as raised:
        blobs.read_bytes(info.key)
    error = raised.value
    assert (error.provider, error.status, error.code) == ("s3", 503, "provider_unavailable")
    assert type(error.__cause__).__name__ in {"EndpointConnectionError", "ConnectionClosedError"}
    assert type(error.__cause__).__name__ in str(error)
    assert "testing-secret-value" not in str(error)


def test_a_download_from_an_unreachable_store_is_503_json(put, admin_client, unreachable_s3):
    from django.db import transaction

    from trellis.blobs.models import BlobMeta

    with transaction.atomic():  # a row whose content lives in the unreachable store
        BlobMeta.objects.create(
            key="photos/1.jpg",
            domain="demo",
            parent_id="form-1",
            type_code=1,
            length=3,
            sha256="0" * 64,
        )
    response = admin_client.get("/blobs/photos/1.jpg")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.json()
    assert body["code"] == "provider_unavailable"
    assert body["request_id"] == response["X-Request-ID"]
    assert "provider 's3' is unavailable" in body["message"]


def test_a_disk_error_is_a_typed_failure_and_502_json(put, admin_client, trellis_register):
    import errno

    from trellis.core import hookimpl

    class FailingDisk:  # the filesystem provider's open meets EIO, as on a failing disk
        TRELLIS_IMPLEMENTS = {"blobs": ">=1,<2"}

        @staticmethod
        @hookimpl(wrapper=True)
        def blobs_open(key):
            stream = yield
            stream.close()
            raise OSError(errno.EIO, "Input/output error")

    info = put(b"content", key="docs/a.txt")
    trellis_register(FailingDisk(), "failing-disk")
    with pytest.raises(blobs.BlobProviderFailed, match="provider 'filesystem' failed") as raised:
        blobs.read_bytes(info.key)
    assert isinstance(raised.value, ProviderFailed)
    assert not isinstance(raised.value, ProviderUnavailable)
    response = admin_client.get("/blobs/docs/a.txt")
    assert (response.status_code, response.json()["code"]) == (502, "provider_failed")
    assert response["Content-Type"] == "application/json"


def test_a_failing_stream_is_the_callers_error_not_the_providers():
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer):
            raise OSError("the upload was interrupted")

    with pytest.raises(OSError, match="the upload was interrupted") as raised:
        blobs.put(Broken(), domain="demo", parent_id="form-1", type_code=1)
    assert not isinstance(raised.value, blobs.BlobError)


def test_a_hung_bucket_check_does_not_block_other_clients(hanging_s3, monkeypatch, server, bucket):
    """The first use of a client checks its bucket over the network, outside any lock."""
    import threading
    import time

    from trellis.blobs import s3

    monkeypatch.setenv("TRELLIS_BLOBS_S3_READ_TIMEOUT", "30")
    monkeypatch.setenv("TRELLIS_BLOBS_S3_MAX_ATTEMPTS", "1")
    hung_settings = s3.load_settings()
    outcome: list[BaseException] = []

    def first_use() -> None:
        try:
            s3._client(hung_settings)
        except BaseException as exc:
            outcome.append(exc)

    checking = threading.Thread(target=first_use)
    checking.start()
    deadline = time.monotonic() + 10
    while not hanging_s3 and time.monotonic() < deadline:  # the check's request has arrived
        time.sleep(0.01)
    assert hanging_s3, "the bucket check never reached the hanging server"
    for name, value in server.env(bucket).items():
        monkeypatch.setenv(name, value)
    assert s3._client(s3.load_settings()) is not None  # another endpoint: not held up
    assert checking.is_alive()  # ... while the first check still waits for its answer
    for connection in hanging_s3:
        connection.close()  # the hung server goes away; the first check fails now
    checking.join(timeout=30)
    assert not checking.is_alive()
    assert outcome, "the check of an endpoint that closed the connection cannot succeed"


def test_a_body_cut_short_by_the_s3_server_is_unavailable(cutting_s3):
    """A server that promises 1 MiB, sends 100 bytes and closes: a typed, retryable error."""
    from trellis.blobs.models import BlobMeta

    BlobMeta.objects.create(
        key="cut/short",
        domain="d",
        parent_id="p",
        type_code=1,
        length=1024 * 1024,
        sha256="0" * 64,
    )
    with pytest.raises(blobs.BlobStoreUnavailable, match="reading blob 'cut/short'") as raised:
        blobs.read_bytes("cut/short")
    assert not isinstance(raised.value, blobs.BlobStoreTimeout)
    assert type(raised.value.__cause__).__name__ in {
        "IncompleteReadError",
        "ResponseStreamingError",
    }
