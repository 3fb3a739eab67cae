"""The transaction decision: a rolled-back put leaves an orphan that the reaper removes.

These tests commit for real (``transaction=True``), so on-commit hooks run as in production.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import transaction

from trellis import blobs
from trellis.blobs import filesystem
from trellis.blobs.models import BlobMeta
from trellis.core import get_host

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def roll_back(work: Callable[[], object]) -> None:
    """Run ``work`` in a transaction, then roll it back."""
    try:
        with transaction.atomic():
            work()
            raise Rollback
    except Rollback:
        pass


def reap(*args: str) -> str:
    out = io.StringIO()
    call_command("blobs_reap", *args, stdout=out)
    return out.getvalue()


def age(key: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(filesystem.path_for(key), (then, then))


def test_rolled_back_put_leaves_an_orphan_that_the_reaper_deletes(put):
    def work() -> None:
        put(b"never committed", key="orphan/1")
        assert blobs.exists("orphan/1")

    roll_back(work)
    assert not blobs.exists("orphan/1")
    assert not BlobMeta.objects.exists()
    assert filesystem.path_for("orphan/1").read_bytes() == b"never committed"

    output = reap("--older-than", "3600")
    assert "1 younger orphan(s) kept" in output
    assert filesystem.path_for("orphan/1").exists()  # its put might still commit

    age("orphan/1", 7200)
    output = reap("--older-than", "3600")
    assert "scanned 1 stored blob(s): 1 orphan(s) older than 3600 s, deleted 1" in output
    assert not filesystem.path_for("orphan/1").exists()


def test_reaper_never_touches_blobs_with_metadata(put):
    put(b"kept", key="kept")
    age("kept", 10 * 86400)
    assert "0 orphan(s)" in reap("--older-than", "0")
    assert blobs.read_bytes("kept") == b"kept"


def test_committed_put_in_a_transaction(put):
    with transaction.atomic():
        put(b"committed", key="ok")
    assert blobs.read_bytes("ok") == b"committed"


def test_rolled_back_delete_loses_nothing(put):
    put(b"precious", key="precious")

    def work() -> None:
        assert blobs.delete("precious") is True
        assert not blobs.exists("precious")

    roll_back(work)
    assert blobs.read_bytes("precious") == b"precious"


def test_committed_delete_removes_the_content(put):
    put(b"x", key="gone")
    with transaction.atomic():
        blobs.delete("gone")
        assert filesystem.path_for("gone").exists()  # until the commit
    assert not filesystem.path_for("gone").exists()


def test_delete_outside_a_transaction_removes_content_at_once(put):
    put(b"x", key="now")
    blobs.delete("now")
    assert not filesystem.path_for("now").exists()


def test_rolled_back_bulk_delete_loses_nothing(put):
    for n in range(3):
        put(b"x", key=f"b{n}")
    roll_back(lambda: blobs.bulk_delete(["b0", "b1", "b2"]))
    assert [blobs.read_bytes(f"b{n}") for n in range(3)] == [b"x"] * 3


@pytest.mark.parametrize(
    "delete", [blobs.delete, lambda key: blobs.bulk_delete([key])], ids=["delete", "bulk_delete"]
)
def test_put_after_delete_in_the_same_transaction_says_to_commit_first(put, delete):
    put(b"old", key="reused")
    with transaction.atomic():
        assert delete("reused")
        with pytest.raises(blobs.KeyExists, match=r"deleted in this transaction.*commits"):
            put(b"new", key="reused")
        assert filesystem.path_for("reused").read_bytes() == b"old"  # a rollback keeps it
    assert not filesystem.path_for("reused").exists()
    put(b"new", key="reused")  # committed: the key is free again
    assert blobs.read_bytes("reused") == b"new"


def test_content_of_a_key_stored_again_before_the_commit_is_kept(put):
    put(b"old", key="again")
    new = b"new content"
    with transaction.atomic():
        blobs.delete("again")
        # What a put on a provider that replaces content would leave: new content and a row.
        filesystem.path_for("again").unlink()
        get_host().call("blobs_write", key="again", stream=io.BytesIO(new))
        BlobMeta.objects.create(
            key="again",
            domain="d",
            parent_id="p",
            type_code=1,
            length=len(new),
            sha256=hashlib.sha256(new).hexdigest(),
        )
    assert blobs.read_bytes("again") == new
