"""Management commands: blobs_expire and blobs_reap."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from trellis import blobs
from trellis.blobs import filesystem
from trellis.core import get_host

pytestmark = pytest.mark.django_db


def run(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def test_expire_deletes_expired_blobs_in_batches(put, django_capture_on_commit_callbacks):
    expired = [put(b"x", key=f"old/{n}", expires=timedelta(seconds=-n - 1)).key for n in range(5)]
    later = put(b"x", key="later", expires=timedelta(days=1)).key
    forever = put(b"x", key="forever").key
    with django_capture_on_commit_callbacks(execute=True):
        output = run("blobs_expire", "--batch-size", "2")
    assert output.strip() == "deleted 5 expired blob(s) in 3 batch(es)"
    assert not any(blobs.exists(key) for key in expired)
    assert not any(filesystem.path_for(key).exists() for key in expired)
    assert blobs.exists(later) and blobs.exists(forever)
    assert run("blobs_expire").strip() == "deleted 0 expired blob(s) in 0 batch(es)"


def test_expire_with_an_exact_multiple_of_the_batch_size(put, django_capture_on_commit_callbacks):
    for n in range(4):
        put(b"x", expires=datetime(2000, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
    with django_capture_on_commit_callbacks(execute=True):
        output = run("blobs_expire", "--batch-size", "2")
    assert "deleted 4 expired blob(s) in 2 batch(es)" in output


def test_expire_refuses_a_bad_batch_size():
    with pytest.raises(CommandError, match="--batch-size must be at least 1; got 0"):
        call_command("blobs_expire", "--batch-size", "0")


def orphan(key: str, seconds_old: float) -> None:
    get_host().call("blobs_write", key=key, stream=io.BytesIO(b"orphan"))
    then = time.time() - seconds_old
    os.utime(filesystem.path_for(key), (then, then))


def test_reap_counts_and_deletes_old_orphans_only(put):
    put(b"x", key="has-metadata")
    orphan("old", 7200)
    orphan("young", 60)
    assert run("blobs_reap", "--dry-run").strip() == (
        "scanned 3 stored blob(s): 1 orphan(s) older than 3600 s, would delete 1; "
        "1 younger orphan(s) kept"
    )
    assert filesystem.path_for("old").exists()
    assert run("blobs_reap").strip() == (
        "scanned 3 stored blob(s): 1 orphan(s) older than 3600 s, deleted 1; "
        "1 younger orphan(s) kept"
    )
    assert not filesystem.path_for("old").exists()
    assert filesystem.path_for("young").exists()
    assert blobs.read_bytes("has-metadata") == b"x"


def test_reap_removes_stale_temporary_files(put):
    put(b"x", key="k")
    stale = filesystem.path_for("k").parent / "~tmp-crashed"
    stale.write_bytes(b"partial upload")
    then = time.time() - 7200
    os.utime(stale, (then, then))
    assert "removed 1 stale temporary file(s)" in run("blobs_reap")
    assert not stale.exists()


def test_reap_judges_temporary_files_by_the_time_it_is_given(put):
    from trellis.blobs.services import blobs_reap

    put(b"x", key="k")
    fresh = filesystem.path_for("k").parent / "~tmp-fresh"
    fresh.write_bytes(b"partial upload")
    report = blobs_reap(older_than=timedelta(hours=1), now=datetime.now(UTC) + timedelta(hours=2))
    assert report.temp_files == 1
    assert not fresh.exists()


def test_reap_in_batches_over_many_blobs(put):
    from trellis.blobs.services import blobs_reap

    for n in range(7):
        put(b"x", key=f"kept/{n}")
    for n in range(5):
        orphan(f"orphan/{n}", 7200)
    report = blobs_reap(older_than=timedelta(hours=1), batch_size=3)
    assert (report.scanned, report.orphans, report.deleted) == (12, 5, 5)


def test_reap_refuses_a_negative_grace_period():
    with pytest.raises(CommandError, match="--older-than must be at least 0"):
        call_command("blobs_reap", "--older-than", "-1")
