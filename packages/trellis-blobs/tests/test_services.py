"""Writes through the facade: put, delete, bulk delete, expiry; every error leaves nothing."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import checks
from django.db import transaction

from trellis import blobs
from trellis.blobs import filesystem
from trellis.blobs.models import BlobMeta
from trellis.blobs.testing import PatternStream, StreamFailure
from trellis.core import ConfigurationError, get_host, hookimpl

pytestmark = pytest.mark.django_db

BAD_KEYS = ["../x", "/abs", "a\x00b", "", "a//b", "a/./b", "a b", "é", "k" * 256, "a/"]
MiB = 1024 * 1024


class StrictStream(io.RawIOBase):
    """A stream that fails the test if anyone asks for everything at once."""

    def __init__(self, content: bytes) -> None:
        super().__init__()
        self._inner = io.BytesIO(content)
        self.biggest_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size > 0, "the whole stream was read at once"
        self.biggest_read = max(self.biggest_read, size)
        return self._inner.read(size)


def nothing_stored(stored_files) -> bool:
    return not BlobMeta.objects.exists() and stored_files() == []


def test_put_bytes_returns_its_metadata(put):
    before = datetime.now(UTC)
    info = put(b"hello", name="hello.txt", content_type="text/plain; charset=utf-8")
    assert re.fullmatch(r"[0-9a-f]{32}", info.key)
    assert info.length == 5
    assert info.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert (info.domain, info.parent_id, info.type_code) == ("demo", "form-1", 1)
    assert (info.name, info.content_type) == ("hello.txt", "text/plain; charset=utf-8")
    assert before <= info.created <= datetime.now(UTC)
    assert info.expires is None
    assert blobs.get_info(info.key) == info
    assert blobs.read_bytes(info.key) == b"hello"


def test_put_streams_in_chunks(put):
    content = bytes(range(256)) * 12_000  # ~3 MiB
    stream = StrictStream(content)
    info = put(stream, key="streamed/one")
    assert stream.biggest_read <= MiB
    assert info.length == len(content)
    assert blobs.read_bytes("streamed/one") == content


def test_put_a_large_generated_stream_without_holding_it(put):
    info = put(PatternStream(12 * MiB), key="big", length=12 * MiB)
    assert info.length == 12 * MiB
    assert info.sha256 == PatternStream.digest(12 * MiB)


def test_put_empty(put):
    info = put(b"")
    assert info.length == 0
    assert blobs.read_bytes(info.key) == b""


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_everywhere(put, key, stored_files):
    with pytest.raises(blobs.InvalidKey):
        put(b"x", key=key)
    for call in (
        blobs.get_info,
        blobs.open_blob,
        blobs.read_bytes,
        blobs.exists,
        blobs.size,
        blobs.delete,
        blobs.clear_expiry,
    ):
        with pytest.raises(blobs.InvalidKey):
            call(key)
    with pytest.raises(blobs.InvalidKey):
        blobs.set_expiry(key, timedelta(days=1))
    with pytest.raises(blobs.InvalidKey):
        blobs.bulk_delete(["fine", key])
    assert nothing_stored(stored_files)


def test_invalid_key_message_says_why(put):
    with pytest.raises(blobs.InvalidKey, match=r"'\.\./x'.*could escape"):
        put(b"x", key="../x")
    with pytest.raises(blobs.InvalidKey, match="absolute"):
        put(b"x", key="/etc/passwd")
    with pytest.raises(blobs.InvalidKey, match="NUL"):
        put(b"x", key="a\x00b")


def test_missing_key_raises_not_found_naming_it():
    for call in (blobs.get_info, blobs.open_blob, blobs.read_bytes, blobs.size):
        with pytest.raises(blobs.NotFound, match="'no/such/blob'"):
            call("no/such/blob")
    with pytest.raises(blobs.NotFound, match="'gone'"):
        blobs.set_expiry("gone", timedelta(days=1))
    with pytest.raises(blobs.NotFound, match="'gone'"):
        blobs.clear_expiry("gone")
    assert blobs.exists("no/such/blob") is False
    assert blobs.delete("no/such/blob") is False
    assert isinstance(blobs.NotFound("x"), KeyError)  # callers may catch either
    assert str(blobs.NotFound("no blob 'x'")) == "no blob 'x'"


def test_keys_are_immutable(put):
    put(b"first", key="fixed")
    with pytest.raises(blobs.KeyExists, match="'fixed'"):
        put(b"second", key="fixed")
    assert blobs.read_bytes("fixed") == b"first"


def test_orphaned_content_blocks_its_key_until_reaped(put):
    get_host().call("blobs_write", key="orphan", stream=io.BytesIO(b"left behind"))
    with pytest.raises(blobs.KeyExists, match="blobs_reap"):
        put(b"new", key="orphan")
    assert not BlobMeta.objects.filter(key="orphan").exists()
    assert filesystem.path_for("orphan").read_bytes() == b"left behind"


def test_oversized_bytes_leave_nothing(put, monkeypatch, stored_files):
    monkeypatch.setenv("TRELLIS_BLOBS_MAX_SIZE", "1000")
    put(b"x" * 1000, key="exactly-the-limit")
    BlobMeta.objects.all().delete()
    filesystem.path_for("exactly-the-limit").unlink()
    with pytest.raises(blobs.BlobTooLarge, match=r"'too-big'.*1000 bytes.*TRELLIS_BLOBS_MAX_SIZE"):
        put(b"x" * 1001, key="too-big")
    assert nothing_stored(stored_files)


def test_oversized_stream_stops_reading_and_leaves_nothing(put, monkeypatch, stored_files):
    monkeypatch.setenv("TRELLIS_BLOBS_MAX_SIZE", "2MiB")
    stream = PatternStream(50 * MiB)
    with pytest.raises(blobs.BlobTooLarge):
        put(stream, key="huge")
    assert stream.position <= 3 * MiB  # stopped soon after the limit, not at the end
    assert nothing_stored(stored_files)


def test_declared_length_beyond_the_limit_is_refused_before_reading(put, monkeypatch):
    monkeypatch.setenv("TRELLIS_BLOBS_MAX_SIZE", "1KiB")
    stream = PatternStream(2048)
    with pytest.raises(blobs.BlobTooLarge, match="length=2048"):
        put(stream, length=2048)
    assert stream.position == 0


def test_stream_longer_than_declared_length_leaves_nothing(put, stored_files):
    with pytest.raises(blobs.BlobTooLarge, match="length=10 was declared"):
        put(b"x" * 11, key="long", length=10)
    assert nothing_stored(stored_files)


def test_truncated_stream_leaves_nothing(put, stored_files):
    with pytest.raises(blobs.BlobTruncated, match=r"'short'.*after 50 bytes.*length=100"):
        put(PatternStream(50), key="short", length=100)
    assert nothing_stored(stored_files)


def test_failing_stream_raises_its_own_error_and_leaves_nothing(put, stored_files):
    with pytest.raises(StreamFailure):
        put(PatternStream(5 * MiB, fail_after=3 * MiB), key="broken")
    assert nothing_stored(stored_files)


def test_failure_after_the_content_was_written_deletes_it(put, monkeypatch, stored_files):
    def refuse(**kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(BlobMeta.objects, "create", refuse)
    with pytest.raises(RuntimeError, match="database is gone"):
        put(b"content", key="half")
    assert nothing_stored(stored_files)


WINNER = b"the winner's content"


class RacingPut:
    """Around blobs_write: another put of the same key stores its content and commits its row.

    The other put's content replaces ours, as on a provider that is not create-only (S3 with
    ``TRELLIS_BLOBS_S3_CONDITIONAL_WRITES=0``, a filesystem without hard links).
    """

    TRELLIS_IMPLEMENTS = {"blobs": ">=1,<2"}

    @staticmethod
    @hookimpl(wrapper=True)
    def blobs_write(key, stream):
        written = yield
        path = filesystem.path_for(key)
        path.unlink()
        path.write_bytes(WINNER)
        BlobMeta.objects.create(
            key=key,
            domain="d",
            parent_id="p",
            type_code=0,
            length=len(WINNER),
            sha256=hashlib.sha256(WINNER).hexdigest(),
        )
        return written


def test_concurrent_put_of_the_same_key_keeps_the_winners_content(put, trellis_register):
    assert trellis_register(RacingPut(), "racing").status == "active"
    with pytest.raises(blobs.KeyExists, match="concurrently"):
        put(b"mine", key="contested")
    assert blobs.read_bytes("contested") == WINNER


def test_provider_that_wraps_the_stream_error_still_reports_it(put, trellis_register):
    class Wrapping:
        TRELLIS_IMPLEMENTS = {"blobs": ">=1,<2"}

        @staticmethod
        @hookimpl(wrapper=True)
        def blobs_write(key, stream):
            try:
                return (yield)
            except blobs.BlobError as exc:
                raise OSError("upload failed") from exc

    trellis_register(Wrapping(), "wrapping")
    with pytest.raises(blobs.BlobTooLarge):
        put(b"x" * 20, length=10)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("domain", "", ValueError),
        ("domain", "d" * 256, ValueError),
        ("parent_id", None, ValueError),
        # PostgreSQL refuses NUL and lone surrogates: refused on every database, before writing
        ("domain", "a\x00b", ValueError),
        ("parent_id", "form\x00", ValueError),
        ("parent_id", "tab\there", ValueError),
        ("domain", "\ud800", ValueError),
        ("name", "photo\udc80.jpg", ValueError),
        ("type_code", "1", TypeError),
        ("type_code", True, TypeError),
        ("type_code", 2**31, ValueError),
        ("name", "two\nlines", ValueError),
        ("content_type", "jpeg", ValueError),
        ("content_type", "text/html\r\nX-Evil: 1", ValueError),
        ("length", -1, ValueError),
        ("expires", "tomorrow", TypeError),
        ("expires", datetime(2030, 1, 1), ValueError),  # naive on purpose
    ],
)
def test_bad_fields_are_refused_before_anything_is_stored(put, field, value, error, stored_files):
    with pytest.raises(error, match=field if field != "expires" else "expires"):
        put(b"x", **{field: value})
    assert nothing_stored(stored_files)


def test_content_must_be_bytes_or_a_binary_stream(put, stored_files):
    with pytest.raises(TypeError, match="bytes or a binary stream"):
        put("text")
    with pytest.raises(TypeError, match="returned str"):
        put(io.StringIO("text"))
    assert nothing_stored(stored_files)


def test_max_size_setting_must_be_a_size(put, monkeypatch, settings):
    monkeypatch.setenv("TRELLIS_BLOBS_MAX_SIZE", "lots")
    with pytest.raises(ConfigurationError, match=r"TRELLIS_BLOBS_MAX_SIZE.*'lots'"):
        put(b"x")
    errors = checks.run_checks()
    assert [e.id for e in errors if e.id.startswith("trellis_blobs")] == ["trellis_blobs.E001"]
    monkeypatch.delenv("TRELLIS_BLOBS_MAX_SIZE")
    settings.TRELLIS_BLOBS_MAX_SIZE = 4
    with pytest.raises(blobs.BlobTooLarge):
        put(b"12345")


def test_expiry_from_timedelta_or_aware_datetime(put):
    soon = put(b"x", expires=timedelta(hours=1))
    assert soon.expires is not None
    assert abs(soon.expires - datetime.now(UTC) - timedelta(hours=1)) < timedelta(minutes=1)
    when = datetime(2040, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert put(b"x", expires=when).expires == when


def test_set_and_clear_expiry(put):
    info = put(b"x")
    when = datetime(2040, 1, 1, tzinfo=UTC)
    assert blobs.set_expiry(info.key, when).expires == when
    assert blobs.get_info(info.key).expires == when
    assert blobs.clear_expiry(info.key).expires is None
    with pytest.raises(ValueError, match="naive"):
        blobs.set_expiry(info.key, datetime(2040, 1, 1))


def test_delete_removes_row_now_and_content_on_commit(put, django_capture_on_commit_callbacks):
    info = put(b"bye", key="to/delete")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert blobs.delete("to/delete") is True
        assert not blobs.exists("to/delete")
        assert filesystem.path_for("to/delete").exists()  # not committed yet
    assert len(callbacks) == 1
    assert not filesystem.path_for(info.key).exists()
    assert blobs.delete("to/delete") is False


class FailingDelete:
    TRELLIS_IMPLEMENTS = {"blobs": ">=1,<2"}

    @staticmethod
    @hookimpl(wrapper=True)
    def blobs_delete(key):
        raise OSError("disk on fire")
        yield  # a wrapper is a generator  # pragma: no cover


def test_content_deletion_failure_is_logged_not_raised(
    put, caplog, trellis_register, django_capture_on_commit_callbacks
):
    put(b"x", key="stuck")
    trellis_register(FailingDelete(), "failing-delete")
    with django_capture_on_commit_callbacks(execute=True):
        assert blobs.delete("stuck") is True
    assert "could not delete the content of blob 'stuck'" in caplog.text
    assert "blobs_reap" in caplog.text
    assert filesystem.path_for("stuck").exists()  # an orphan now, for the reaper


def test_content_is_kept_for_the_reaper_when_the_check_before_deleting_it_fails(
    put, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    def unreachable(*args, **kwargs):
        raise RuntimeError("database is gone")

    put(b"x", key="unchecked")
    with django_capture_on_commit_callbacks(execute=True):
        assert blobs.delete("unchecked") is True
        monkeypatch.setattr(BlobMeta.objects, "filter", unreachable)
    assert "could not check whether blobs 'unchecked' were stored again" in caplog.text
    assert "blobs_reap" in caplog.text
    assert filesystem.path_for("unchecked").exists()


def test_bulk_delete(put, django_capture_on_commit_callbacks):
    keys = [put(b"x", key=f"bulk/{n}").key for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        assert blobs.bulk_delete([*keys[:3], keys[0], "bulk/missing"]) == 3
    assert [blobs.exists(k) for k in keys] == [False, False, False, True, True]
    assert not filesystem.path_for(keys[0]).exists()
    assert filesystem.path_for(keys[3]).exists()
    assert blobs.bulk_delete([]) == 0


def test_put_inside_a_transaction_is_visible_to_it(put):
    with transaction.atomic():
        info = put(b"inside")
        assert blobs.read_bytes(info.key) == b"inside"


def test_put_an_uploaded_file(put):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("photo.jpg", b"\xff\xd8 jpeg", content_type="image/jpeg")
    info = put(upload, name=upload.name, content_type=upload.content_type, length=upload.size)
    assert blobs.read_bytes(info.key) == b"\xff\xd8 jpeg"


def test_discard_deletes_only_content_whose_put_did_not_commit(put, stored_files):
    kept = put(b"committed", key="kept/one")
    lost: list[str] = []

    def failing_transaction() -> None:
        with transaction.atomic():
            lost.extend([put(b"rolled back", key="lost/one").key, put(b"also lost").key])
            # Inside the transaction the rows are visible: nothing of it is discarded yet.
            assert blobs.discard(lost) == 0
            raise RuntimeError("the caller's transaction fails after its puts")

    with pytest.raises(RuntimeError):
        failing_transaction()
    assert len(stored_files()) == 3  # orphans: without discard only the reaper removes them
    assert blobs.discard([*lost, kept.key, "never/stored", lost[0]]) == 2
    assert len(stored_files()) == 1
    assert blobs.read_bytes(kept.key) == b"committed"
    assert not any(get_host().call("blobs_exists", key=key) for key in lost)
    with pytest.raises(blobs.InvalidKey):
        blobs.discard(["kept/one", "../escape"])
    assert blobs.read_bytes(kept.key) == b"committed"
