"""Reads through the facade: metadata, listings, and content verified as it streams."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from trellis import blobs
from trellis.blobs import filesystem

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


def test_exists_size_and_info(put):
    info = put(b"12345", key="a/b")
    assert blobs.exists("a/b") is True
    assert blobs.size("a/b") == 5
    assert blobs.get_info("a/b") == info


def test_open_blob_streams_verified_content(put):
    content = bytes(range(256)) * 10_000
    info = put(content, key="stream")
    with blobs.open_blob("stream") as reader:
        assert isinstance(reader, io.RawIOBase)
        assert reader.info == info
        assert reader.name == "stream"
        assert reader.readable()
        chunks = []
        while chunk := reader.read(65_536):
            chunks.append(chunk)
        assert reader.read(10) == b""  # verified end, read again
    assert b"".join(chunks) == content
    assert reader.closed
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)


def test_open_blob_supports_readinto_and_buffering(put):
    put(b"line one\nline two\n", key="lines")
    with io.BufferedReader(blobs.open_blob("lines")) as buffered:
        assert buffered.readline() == b"line one\n"
        assert buffered.read() == b"line two\n"


def test_expired_blobs_stay_readable_until_the_job_runs(put):
    info = put(b"x", expires=timedelta(seconds=-1))
    assert blobs.read_bytes(info.key) == b"x"


def test_list_blobs_of_a_parent(put):
    a = put(b"a", parent_id="p1", domain="d1", type_code=1)
    b = put(b"b", parent_id="p1", domain="d1", type_code=2)
    c = put(b"c", parent_id="p1", domain="d2", type_code=1)
    put(b"other", parent_id="p2", domain="d1", type_code=1)
    assert blobs.list_blobs(parent_id="p1") == [a, b, c]
    assert blobs.list_blobs(parent_id="p1", domain="d1") == [a, b]
    assert blobs.list_blobs(parent_id="p1", type_code=1) == [a, c]
    assert blobs.list_blobs(parent_id="p1", domain="d2", type_code=2) == []
    assert blobs.list_blobs(parent_id="nobody") == []


def test_read_bytes_refuses_blobs_over_its_limit(put):
    put(b"x" * 100, key="hundred")
    with pytest.raises(blobs.BlobTooLarge, match="open_blob"):
        blobs.read_bytes("hundred", limit=99)
    assert blobs.read_bytes("hundred", limit=100) == b"x" * 100


def damage(key: str, content: bytes) -> None:
    path = filesystem.path_for(key)
    path.chmod(0o600)
    path.write_bytes(content)


def test_corrupted_content_raises_integrity_error_not_bad_bytes(put):
    put(b"good content", key="rot")
    damage("rot", b"evil content")  # same length, other bytes
    with pytest.raises(blobs.BlobIntegrityError, match=r"'rot'.*sha256"):
        blobs.read_bytes("rot")
    with blobs.open_blob("rot") as reader, pytest.raises(blobs.BlobIntegrityError):
        reader.read()


def test_truncated_content_raises_integrity_error(put):
    put(b"0123456789", key="cut")
    damage("cut", b"01234")
    with pytest.raises(blobs.BlobIntegrityError, match=r"ended after 5 bytes.*10"):
        blobs.read_bytes("cut")


def test_extra_bytes_are_never_returned(put):
    put(b"0123456789", key="grown")
    damage("grown", b"0123456789EXTRA")
    with blobs.open_blob("grown") as reader:
        assert reader.read(10) == b"0123456789"
        with pytest.raises(blobs.BlobIntegrityError, match="more than the 10 bytes"):
            reader.read(10)
        with pytest.raises(blobs.BlobIntegrityError):  # and it stays failed
            reader.read(10)


def test_streaming_reader_fails_at_the_end_of_damaged_content(put):
    content = b"a" * (3 * MiB)
    put(content, key="big-rot")
    damage("big-rot", b"a" * (3 * MiB - 1) + b"b")
    with blobs.open_blob("big-rot") as reader:
        assert reader.read(MiB) == b"a" * MiB
        assert reader.read(MiB) == b"a" * MiB
        with pytest.raises(blobs.BlobIntegrityError, match="sha256"):
            reader.read(MiB)  # the chunk that completes the content is checked first
        with pytest.raises(blobs.BlobIntegrityError):  # and it stays failed
            reader.read(MiB)


def read_to_length(reader: blobs.BlobReader, received: list[bytes], chunk: int) -> None:
    """Read as a consumer bounded by the recorded length does: never asks past it."""
    remaining = reader.info.length
    while remaining:
        received.append(reader.read(min(chunk, remaining)))
        remaining -= len(received[-1])


def test_reading_exactly_the_recorded_length_verifies_the_content(put):
    put(b"good content", key="exact")
    damage("exact", b"evil content")  # same length, other bytes
    with blobs.open_blob("exact") as reader, pytest.raises(blobs.BlobIntegrityError, match="sha"):
        reader.read(12)
    received: list[bytes] = []
    with blobs.open_blob("exact") as reader, pytest.raises(blobs.BlobIntegrityError, match="sha"):
        read_to_length(reader, received, chunk=5)
    assert b"".join(received) == b"evil conte"  # every chunk but the completing one
    with (
        io.BufferedReader(blobs.open_blob("exact")) as buffered,
        pytest.raises(blobs.BlobIntegrityError, match="sha256"),
    ):
        buffered.read(12)


def test_intact_content_read_to_its_length_then_past_it(put):
    put(b"0123456789", key="intact")
    with blobs.open_blob("intact") as reader:
        assert reader.read(10) == b"0123456789"
        assert reader.read(10) == b""


def test_missing_content_with_metadata_is_an_integrity_error(put):
    put(b"x", key="lost")
    filesystem.path_for("lost").unlink()
    with pytest.raises(blobs.BlobIntegrityError, match=r"'lost'.*'filesystem' holds no content"):
        blobs.open_blob("lost")
