"""``manage.py blobs_backfill`` from the filesystem to a real S3 API server (moto, own process)."""

from __future__ import annotations

import io
import json
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from trellis import blobs
from trellis.blobs.models import BlobMeta
from trellis.core import Host, get_host, hookimpl, set_host
from trellis.core.testing import isolated_host

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def providers(server, bucket, tmp_path, monkeypatch, settings) -> None:
    """filesystem (old) → s3 (new), each in a fresh place; the data dir in tmp_path."""
    for name, value in server.env(bucket, prefix=f"t/{uuid.uuid4().hex}").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(tmp_path / "blobs"))
    monkeypatch.setenv("TRELLIS_BLOBS_MIGRATE_FROM", "filesystem")
    monkeypatch.setenv("TRELLIS_BLOBS_MIGRATE_TO", "s3")
    settings.TRELLIS_DATA_DIR = str(tmp_path / "data")


@contextmanager
def selected(provider: str, *plugins: object) -> Iterator[Host]:
    """The installed plugins (and ``plugins``) with ``provider`` selected, process-wide."""
    previous = get_host()
    host = isolated_host(*plugins, discover=True, providers={"blobs": provider})
    set_host(host)
    try:
        yield host
    finally:
        set_host(previous)


def store(count: int, size: int = 1000) -> list[str]:
    """``count`` blobs put through the facade while the filesystem provider is selected."""
    with selected("filesystem"):
        return [
            blobs.put(uuid.uuid4().bytes * (size // 16), domain="d", parent_id="p", type_code=1).key
            for _ in range(count)
        ]


def backfill(*args: str, host_plugins: tuple[object, ...] = ()) -> tuple[str, str]:
    """Run the command with the migrating provider selected; return (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with selected("migrating", *host_plugins):
        try:
            call_command("blobs_backfill", *args, stdout=out, stderr=err)
        except CommandError as exc:
            exc.add_note(f"stdout:\n{out.getvalue()}stderr:\n{err.getvalue()}")
            exc.stdout = out.getvalue()
            raise
    return out.getvalue(), err.getvalue()


def in_s3(key: str) -> bool:
    with selected("s3") as host:
        return bool(host.call("blobs_exists", key=key))


def checkpoint_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "blobs-backfill" / "filesystem-to-s3.json"


def test_copies_everything_verified_and_skips_what_is_there(tmp_path):
    keys = store(6)
    with selected("migrating"):  # written while migrating: already in the new provider
        keys.append(blobs.put(b"new", domain="d", parent_id="p", type_code=1).key)

    out, err = backfill()
    assert "filesystem -> s3: copied 6, skipped 1, failed 0" in out
    assert "100% 7/7" in err
    assert not checkpoint_file(tmp_path).exists()  # done: nothing to resume
    with selected("s3"):  # the new provider alone serves every blob, checked against metadata
        for key in keys:
            info = blobs.get_info(key)
            assert len(blobs.read_bytes(key)) == info.length

    out, _ = backfill("--jobs", "1")
    assert "copied 0, skipped 7, failed 0" in out


def test_failures_are_reported_with_reasons_kept_and_retried_first(tmp_path):
    good, missing, damaged = store(3)
    with selected("filesystem") as host:
        host.call("blobs_delete", key=missing)
    real_sha = BlobMeta.objects.get(key=damaged).sha256
    BlobMeta.objects.filter(key=damaged).update(sha256="0" * 64)

    with pytest.raises(CommandError) as raised:
        backfill()
    assert raised.value.returncode == 1
    out = raised.value.stdout
    assert "copied 1, skipped 0, failed 2" in out
    assert f"failed: {missing}: missing from both 'filesystem' and 's3'" in out
    assert f"failed: {damaged}: content has sha256 {real_sha}; the metadata records 000" in out
    assert in_s3(good)
    assert not in_s3(damaged)  # a copy that fails verification is not kept
    saved = json.loads(checkpoint_file(tmp_path).read_text())
    assert set(saved["failed"]) == {missing, damaged}

    BlobMeta.objects.filter(key=damaged).update(sha256=real_sha)
    BlobMeta.objects.filter(key=missing).delete()
    out, _ = backfill()
    assert "retrying 2 failed blob(s) first" in out
    assert "copied 1, skipped 0, failed 0" in out
    assert in_s3(damaged)


def _interrupting(after: int) -> types.ModuleType:
    """A plugin wrapping blobs_open so the stream of the ``after``-th blob opened raises
    KeyboardInterrupt halfway, as Ctrl-C would."""
    module = types.ModuleType("interrupting")
    opened: list[str] = []

    class Interrupted(io.RawIOBase):
        def __init__(self, stream):
            self._stream = stream

        def readable(self):
            return True

        def read(self, size=-1):
            data = self._stream.read(100)
            if self._stream.tell() > 300:
                raise KeyboardInterrupt
            return data

        def close(self):
            self._stream.close()
            super().close()

    @hookimpl(wrapper=True, specname="blobs_open")
    def wrap(key: str):
        stream = yield
        opened.append(key)
        return Interrupted(stream) if len(opened) == after else stream

    module.__dict__.update(TRELLIS_IMPLEMENTS={"blobs": ">=1.0,<2"}, blobs_open=wrap)
    return module


def test_an_interrupted_run_resumes_without_copying_anything_twice(tmp_path):
    keys = sorted(store(8))
    with pytest.raises(CommandError) as raised:
        backfill("--jobs", "1", host_plugins=(_interrupting(after=4),))
    assert raised.value.returncode == 130
    assert "copied 3, skipped 0, failed 0" in raised.value.stdout
    assert [in_s3(key) for key in keys] == [True] * 3 + [False] * 5
    saved = json.loads(checkpoint_file(tmp_path).read_text())
    assert saved["last_key"] == keys[2]

    out, _ = backfill()
    assert f"resuming from {checkpoint_file(tmp_path)}: after key {keys[2]!r}" in out
    assert "copied 5, skipped 0, failed 0" in out  # the first three were not even looked at
    assert all(in_s3(key) for key in keys)


def test_an_interrupted_run_with_parallel_copies_resumes(tmp_path):
    keys = store(12)
    with pytest.raises(CommandError):
        backfill("--jobs", "3", host_plugins=(_interrupting(after=5),))
    first = sum(in_s3(key) for key in keys)
    out, _ = backfill("--jobs", "3")
    copied = int(out.split("copied ")[1].split(",")[0])
    skipped = int(out.split("skipped ")[1].split(",")[0])
    assert copied + first == 12  # every blob copied exactly once over the two runs
    assert all(in_s3(key) for key in keys)
    assert skipped <= 2 * 3  # at most the copies in flight when interrupted are looked at again


def test_limit_stops_early_and_restart_ignores_the_checkpoint(tmp_path):
    keys = sorted(store(5))
    out, _ = backfill("--limit", "2", "--jobs", "1")
    assert "copied 2, skipped 0, failed 0" in out
    assert json.loads(checkpoint_file(tmp_path).read_text())["last_key"] == keys[1]

    out, _ = backfill("--restart", "--checkpoint", str(tmp_path / "elsewhere.json"))
    assert "resuming" not in out
    assert "copied 3, skipped 2, failed 0" in out
    assert not (tmp_path / "elsewhere.json").exists()

    out, _ = backfill("--restart")  # the default checkpoint, left by --limit, is ignored too
    assert "copied 0, skipped 5, failed 0" in out
    assert not checkpoint_file(tmp_path).exists()


def test_a_blob_deleted_while_it_is_copied_leaves_no_copy(tmp_path):
    (key,) = store(1)
    module = types.ModuleType("deleting")

    @hookimpl(wrapper=True, specname="blobs_open")
    def wrap(key: str):
        stream = yield
        BlobMeta.objects.filter(key=key).delete()  # the application deletes it meanwhile
        return stream

    module.__dict__.update(TRELLIS_IMPLEMENTS={"blobs": ">=1.0,<2"}, blobs_open=wrap)
    out, _ = backfill("--jobs", "1", host_plugins=(module,))
    assert "copied 0, skipped 1, failed 0" in out
    assert not in_s3(key)


def test_scan_source_copies_content_without_metadata_too():
    keys = store(2)
    with selected("filesystem") as host:
        host.call("blobs_write", key="no/metadata", stream=io.BytesIO(b"orphan"))
    out, _ = backfill("--source", "scan", "--from", "filesystem", "--to", "s3")
    assert "copied 3, skipped 0, failed 0" in out
    assert "checkpoint" not in out
    assert all(in_s3(key) for key in [*keys, "no/metadata"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "filesystem"), "give both --from and --to"),
        (("--from", "s3", "--to", "s3"), "--from and --to both name 's3'"),
        (("--from", "filesystem", "--to", "gcs"), "--to names blobs provider 'gcs'"),
        (("--jobs", "0"), "--jobs must be at least 1"),
    ],
)
def test_unusable_options_are_refused(args, message):
    with pytest.raises(CommandError, match=message):
        backfill(*args)


def test_without_options_the_migration_settings_are_required(monkeypatch):
    monkeypatch.delenv("TRELLIS_BLOBS_MIGRATE_FROM")
    with pytest.raises(CommandError, match="needs TRELLIS_BLOBS_MIGRATE_FROM"):
        backfill()


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_an_unreadable_checkpoint_is_refused(tmp_path, content):
    path = tmp_path / "cp.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=r"cannot read the checkpoint .*--restart"):
        backfill("--checkpoint", str(path))
    out, _ = backfill("--checkpoint", str(path), "--restart")
    assert "copied 0, skipped 0, failed 0" in out


def test_a_checkpoint_of_another_migration_is_refused(tmp_path):
    store(1)
    path = tmp_path / "cp.json"
    path.write_text(json.dumps({"from": "s3", "to": "filesystem", "last_key": None}))
    with pytest.raises(CommandError, match="belongs to a backfill from 's3' to 'filesystem'"):
        backfill("--checkpoint", str(path))
