"""The s3 provider against a real S3 API server (moto in server mode, its own process).

moto is in the test dependency group, so nothing here is skipped: the server always starts.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from trellis.blobs import BlobIntegrityError, KeyExists, NotFound, s3
from trellis.blobs.s3testing import S3Server
from trellis.blobs.testing import BlobsContract, PatternStream, StreamFailure
from trellis.core import ConfigurationError, Host
from trellis.core.testing import isolated_host

MiB = 1024 * 1024


class TestS3Provider(BlobsContract):
    provider = "s3"
    discover = True

    s3_env: dict[str, str]

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _s3(cls, server: S3Server, bucket: str) -> None:
        cls.s3_env = server.env(bucket)

    def provider_settings(self, tmp_path: Path) -> dict[str, str]:
        # each test in its own folder of the module's bucket, so scans see only its blobs
        return {**self.s3_env, "TRELLIS_BLOBS_S3_PREFIX": f"t/{uuid.uuid4().hex}"}


# -- what is particular to S3 ---------------------------------------------------------------------


@pytest.fixture
def prefix(server: S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the provider at a fresh folder of the module's bucket; return the folder."""
    folder = f"t/{uuid.uuid4().hex}"
    for name, value in server.env(bucket, prefix=folder).items():
        monkeypatch.setenv(name, value)
    return folder + "/"


@pytest.fixture
def host(prefix: str) -> Host:
    return isolated_host(s3, providers={"blobs": "s3"})


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_BLOBS_S3_MULTIPART_THRESHOLD", "5MiB")
    monkeypatch.setenv("TRELLIS_BLOBS_S3_MULTIPART_CHUNKSIZE", "5MiB")


def objects(server: S3Server, bucket: str, prefix: str = "") -> dict[str, int]:
    listing = server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {item["Key"]: item["Size"] for item in listing.get("Contents", [])}


def uploads(server: S3Server, bucket: str, prefix: str) -> list[str]:
    listing = server.client().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return [upload["Key"] for upload in listing.get("Uploads", [])]


def test_large_content_is_uploaded_in_parts_and_verified_by_hash(
    host, server, bucket, prefix, small_parts
):
    size = 12 * MiB
    stream = PatternStream(size, max_read=300_000)  # short reads must still fill 5 MiB parts
    assert host.call("blobs_write", key="big", stream=stream) == size

    head = server.client().head_object(Bucket=bucket, Key=prefix + "big")
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB: a multipart upload
    digest = hashlib.sha256()
    with host.call("blobs_open", key="big") as reader:
        while chunk := reader.read(MiB):
            digest.update(chunk)
    assert digest.hexdigest() == PatternStream.digest(size)
    assert uploads(server, bucket, prefix) == []


def test_content_below_the_threshold_is_one_put(host, server, bucket, prefix, small_parts):
    size = 5 * MiB - 1
    assert host.call("blobs_write", key="one", stream=PatternStream(size)) == size
    etag = server.client().head_object(Bucket=bucket, Key=prefix + "one")["ETag"]
    assert "-" not in etag


@pytest.mark.parametrize("fail_after", [1 * MiB, 7 * MiB, 11 * MiB])
def test_a_stream_failing_mid_upload_leaves_no_object_and_no_parts(
    host, server, bucket, prefix, small_parts, fail_after
):
    stream = PatternStream(12 * MiB, fail_after=fail_after)
    with pytest.raises(StreamFailure):  # the stream's own error, not a wrapper
        host.call("blobs_write", key="broken", stream=stream)
    assert objects(server, bucket, prefix) == {}
    assert uploads(server, bucket, prefix) == []


def test_existing_keys_are_never_replaced(host, server, bucket, prefix, small_parts):
    host.call("blobs_write", key="k", stream=io.BytesIO(b"first"))
    with pytest.raises(KeyExists, match="'k'"):
        host.call("blobs_write", key="k", stream=io.BytesIO(b"second"))
    with pytest.raises(KeyExists):
        host.call("blobs_write", key="k", stream=PatternStream(6 * MiB))  # multipart
    with host.call("blobs_open", key="k") as reader:
        assert reader.read() == b"first"
    assert uploads(server, bucket, prefix) == []


def test_conditional_writes_can_be_turned_off(host, monkeypatch):
    monkeypatch.setenv("TRELLIS_BLOBS_S3_CONDITIONAL_WRITES", "0")
    host.call("blobs_write", key="k", stream=io.BytesIO(b"first"))
    host.call("blobs_write", key="k", stream=io.BytesIO(b"second"))
    with host.call("blobs_open", key="k") as reader:
        assert reader.read() == b"second"


def test_reader_seeks_with_range_requests(host):
    host.call("blobs_write", key="r", stream=io.BytesIO(b"0123456789"))
    with host.call("blobs_open", key="r") as reader:
        assert reader.seekable()
        assert reader.read(2) == b"01"
        reader.seek(7)
        assert reader.read() == b"789"
        reader.seek(-4, io.SEEK_END)
        assert reader.read(2) == b"67"
        assert reader.tell() == 8
        reader.seek(100)
        assert reader.read() == b""


def test_reader_refuses_to_mix_two_versions_of_an_object(host, monkeypatch):
    monkeypatch.setenv("TRELLIS_BLOBS_S3_CONDITIONAL_WRITES", "off")
    host.call("blobs_write", key="v", stream=io.BytesIO(b"1" * MiB))
    with host.call("blobs_open", key="v") as reader:
        assert reader.read(3) == b"111"
        host.call("blobs_write", key="v", stream=io.BytesIO(b"2" * MiB))
        reader.seek(MiB - 10)  # past what the reader has buffered: a new range request
        with pytest.raises(BlobIntegrityError, match="replaced while it was being read"):
            reader.read()


def test_closing_the_reader_early_releases_it(host, monkeypatch):
    from botocore.response import StreamingBody

    closed: list[StreamingBody] = []
    real_close = StreamingBody.close

    def spy(body: StreamingBody) -> None:
        closed.append(body)
        real_close(body)

    monkeypatch.setattr(StreamingBody, "close", spy)
    host.call("blobs_write", key="c", stream=PatternStream(3 * MiB))
    reader = host.call("blobs_open", key="c")
    assert len(reader.read(1000)) == 1000
    assert closed == []
    reader.close()
    assert len(closed) == 1  # the GetObject body, returning or dropping its connection
    assert reader.closed
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)


def test_missing_key_is_not_found_and_names_the_bucket(host, bucket):
    with pytest.raises(NotFound, match=rf"'nope'.*{bucket}"):
        host.call("blobs_open", key="nope")
    assert host.call("blobs_exists", key="nope") is False
    assert host.call("blobs_delete", key="nope") is False


def test_delete_says_whether_something_was_deleted(host, server, bucket, prefix):
    host.call("blobs_write", key="d", stream=io.BytesIO(b"x"))
    assert host.call("blobs_delete", key="d") is True
    assert host.call("blobs_delete", key="d") is False
    assert objects(server, bucket, prefix) == {}


def test_scan_pages_strips_the_prefix_and_skips_foreign_objects(
    host, server, bucket, prefix, monkeypatch
):
    for n in range(5):
        host.call("blobs_write", key=f"s/{n}", stream=io.BytesIO(b"x" * n))
    client = server.client()
    client.put_object(Bucket=bucket, Key=prefix + "folder/", Body=b"")  # a console's folder
    client.put_object(Bucket=bucket, Key=prefix + "bad key", Body=b"")
    client.put_object(Bucket=bucket, Key="elsewhere/s/9", Body=b"")  # outside the prefix
    requests = []
    s3._client(s3.load_settings()).meta.events.register(
        "before-call.s3.ListObjectsV2", lambda **kwargs: requests.append(1)
    )
    monkeypatch.setattr(s3, "SCAN_PAGE_SIZE", 2)

    result = host.call("blobs_scan")
    assert isinstance(result, Iterator)
    assert requests == []  # nothing listed until the first item is asked for
    listed = {blob.key: blob.length for blob in result}
    assert listed == {f"s/{n}": n for n in range(5)}
    assert len(requests) == 4  # 7 objects under the prefix, 2 per page


def test_missing_bucket_setting_is_named(monkeypatch, settings):
    for name in ("TRELLIS_BLOBS_S3_BUCKET", "TRELLIS_BLOBS_S3_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    host = isolated_host(s3, providers={"blobs": "s3"})
    with pytest.raises(ConfigurationError, match="set TRELLIS_BLOBS_S3_BUCKET"):
        host.call("blobs_exists", key="k")


def test_settings_come_from_django_when_the_environment_has_none(
    server, bucket, monkeypatch, settings
):
    for name, value in server.env(bucket, prefix=f"t/{uuid.uuid4().hex}").items():
        monkeypatch.delenv(name, raising=False)
        setattr(settings, name, value)
    monkeypatch.setenv("TRELLIS_BLOBS_S3_REGION", "")  # blank: the setting applies
    host = isolated_host(s3, providers={"blobs": "s3"})
    host.call("blobs_write", key="from-settings", stream=io.BytesIO(b"x"))
    assert host.call("blobs_exists", key="from-settings") is True
    assert s3.load_settings().bucket == bucket


def test_a_bucket_that_does_not_exist_is_named(host, monkeypatch):
    monkeypatch.setenv("TRELLIS_BLOBS_S3_BUCKET", "no-such-bucket-here")
    with pytest.raises(ConfigurationError, match=r"'no-such-bucket-here'.*TRELLIS_BLOBS_S3_BUCKET"):
        host.call("blobs_exists", key="k")


def test_secrets_never_show(host, monkeypatch):
    secret = "very-secret-value-1234"
    monkeypatch.setenv("TRELLIS_BLOBS_S3_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("TRELLIS_BLOBS_S3_BUCKET", "no-such-bucket-here")
    monkeypatch.setenv(
        "TRELLIS_BLOBS_S3_ENDPOINT_URL",
        s3.load_settings().endpoint_url.replace("http://", "http://user:pw-secret@"),
    )
    assert secret not in repr(s3.load_settings())
    with pytest.raises(ConfigurationError) as raised:
        host.call("blobs_exists", key="k")
    assert secret not in str(raised.value)
    assert "pw-secret" not in str(raised.value)
    monkeypatch.delenv("TRELLIS_BLOBS_S3_ACCESS_KEY_ID")
    with pytest.raises(ConfigurationError, match="TRELLIS_BLOBS_S3_ACCESS_KEY_ID is not set") as e:
        s3.load_settings()
    assert secret not in str(e.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRELLIS_BLOBS_S3_MULTIPART_CHUNKSIZE", "1MiB", "at least 5242880"),
        ("TRELLIS_BLOBS_S3_MULTIPART_THRESHOLD", "lots", "number of bytes"),
        ("TRELLIS_BLOBS_S3_ADDRESSING_STYLE", "sideways", "auto, path or virtual"),
        ("TRELLIS_BLOBS_S3_CONDITIONAL_WRITES", "maybe", "must be a boolean"),
        ("TRELLIS_BLOBS_S3_PREFIX", "../up", "PREFIX is not usable"),
        ("TRELLIS_BLOBS_S3_CONNECT_TIMEOUT", "0", "number of seconds above 0"),
        ("TRELLIS_BLOBS_S3_READ_TIMEOUT", "soon", "number of seconds above 0"),
        ("TRELLIS_BLOBS_S3_READ_TIMEOUT", "inf", "at most 3600"),
        ("TRELLIS_BLOBS_S3_MAX_ATTEMPTS", "0", "whole number from 1 to 10"),
        ("TRELLIS_BLOBS_S3_MAX_ATTEMPTS", "2.5", "whole number from 1 to 10"),
    ],
)
def test_unusable_settings_are_named(prefix, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message) as raised:
        s3.load_settings()
    assert name in str(raised.value)


def test_timeouts_and_attempts_have_defaults_and_reach_the_client(prefix, monkeypatch):
    defaults = s3.load_settings()
    assert (defaults.connect_timeout, defaults.read_timeout, defaults.max_attempts) == (5, 30, 3)
    monkeypatch.setenv("TRELLIS_BLOBS_S3_CONNECT_TIMEOUT", "2.5")
    monkeypatch.setenv("TRELLIS_BLOBS_S3_READ_TIMEOUT", "7")
    monkeypatch.setenv("TRELLIS_BLOBS_S3_MAX_ATTEMPTS", "4")
    config = s3._new_client(s3.load_settings()).meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.5, 7)
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}


def test_one_client_per_configuration(host, monkeypatch):
    first = s3._client(s3.load_settings())
    monkeypatch.setenv("TRELLIS_BLOBS_S3_PREFIX", "another/folder")
    assert s3._client(s3.load_settings()) is first  # the prefix does not need a new client
    monkeypatch.setenv("TRELLIS_BLOBS_S3_MAX_CONCURRENCY", "7")
    assert s3._client(s3.load_settings()) is not first


def test_the_module_imports_without_boto3_and_says_what_to_install(prefix, monkeypatch):
    code = "import sys; sys.modules['boto3'] = None; import trellis.blobs.s3"
    subprocess.run([sys.executable, "-c", code], check=True)

    s3.clear_clients()
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now fails
    host = isolated_host(s3, providers={"blobs": "s3"})
    assert {r.name: r.status for r in host.plugins()}["s3"] == "active"
    with pytest.raises(ConfigurationError, match=r"pip install 'trellis-blobs\[s3\]'"):
        host.call("blobs_exists", key="k")
