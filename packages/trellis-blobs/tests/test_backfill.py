"""``manage.py blobs_backfill`` from the filesystem to a real S3 API server (moto, own process)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from trellis import blobs
from trellis.blobs.backfill import Backfill
from trellis.blobs.migrating import check_migration
from trellis.blobs.models import BlobMeta
from trellis.core import Host, get_host, hookimpl, set_host
from trellis.core.testing import clean_environ, isolated_host

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


class Terminal(io.StringIO):
    """Captured output that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def backfill(
    *args: str, host_plugins: tuple[object, ...] = (), tty: bool = False
) -> tuple[str, str]:
    """Run the command with the migrating provider selected; return (stdout, stderr)."""
    out, err = io.StringIO(), Terminal() if tty else io.StringIO()
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

    out, err = backfill(tty=True)
    assert "filesystem -> s3: copied 6, skipped 1, failed 0" in out
    assert "100%" in err and "7/7" in err and "copied 6  skipped 1  failed 0" in err
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


def test_the_checkpoint_is_written_durably(tmp_path, monkeypatch):
    """fsync of the file before the rename, of the directory after: power loss keeps one."""
    import stat

    from trellis.blobs.backfill import Checkpoint

    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        real_fsync(fd)

    def replace(src, dst) -> None:
        calls.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    migration = check_migration("filesystem", "s3")
    checkpoint = Checkpoint(tmp_path / "cp" / "filesystem-to-s3.json", migration)
    checkpoint.last_key = "a/b"
    checkpoint.save()
    assert calls == [("fsync", "file"), ("replace", "filesystem-to-s3.json"), ("fsync", "dir")]
    assert json.loads(checkpoint.path.read_text())["last_key"] == "a/b"
    assert sorted(p.name for p in checkpoint.path.parent.iterdir()) == ["filesystem-to-s3.json"]


def test_the_default_checkpoint_follows_the_settings_rule(tmp_path, monkeypatch):
    keys = sorted(store(2))
    monkeypatch.setenv("TRELLIS_DATA_DIR", str(tmp_path / "env"))  # the environment wins
    out, _ = backfill("--limit", "1")
    path = tmp_path / "env" / "blobs-backfill" / "filesystem-to-s3.json"
    assert f"checkpoint: {path}" in out
    assert json.loads(path.read_text())["last_key"] == keys[0]
    assert not checkpoint_file(tmp_path).exists()


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


def put_into(provider: str, key: str, content: bytes) -> None:
    """Store ``content`` under ``key`` in ``provider`` directly, replacing what is there."""
    with selected(provider) as host:
        host.call("blobs_delete", key=key)
        host.call("blobs_write", key=key, stream=io.BytesIO(content))


def read_from(provider: str, key: str) -> bytes:
    with selected(provider) as host, host.call("blobs_open", key=key) as stream:
        return bytes(stream.read())


def test_a_damaged_copy_in_the_new_provider_is_replaced_not_skipped(tmp_path):
    damaged, _ = store(2)
    original = read_from("filesystem", damaged)
    put_into("s3", damaged, original[:-10] + b"x" * 10)  # as a killed run could leave it

    out, _ = backfill("--jobs", "1")
    assert "copied 2, skipped 0, failed 0" in out
    assert f"replaced: {damaged}: the copy in 's3' has sha256 " in out
    assert read_from("s3", damaged) == original

    out, _ = backfill("--restart")
    assert "copied 0, skipped 2, failed 0" in out


def test_a_damaged_copy_of_damaged_content_fails_on_every_run(tmp_path):
    """The state a SIGKILL between copying damaged content and deleting the copy leaves."""
    (key,) = store(1)
    put_into("filesystem", key, b"rotten")
    put_into("s3", key, b"rotten")
    expected = BlobMeta.objects.get(key=key)

    for _ in range(2):  # not counted skipped later either: it is failed until fixed
        with pytest.raises(CommandError) as raised:
            backfill("--restart")
        out = raised.value.stdout
        assert "copied 0, skipped 0, failed 1" in out
        assert f"failed: {key}: read 6 bytes; the metadata records {expected.length}" in out
        assert not in_s3(key)  # the damaged copy was deleted
        put_into("s3", key, b"rotten")


def test_trust_existing_skips_without_reading(tmp_path):
    (key,) = store(1)
    put_into("s3", key, b"damaged")
    out, _ = backfill("--trust-existing")
    assert "copied 0, skipped 1, failed 0" in out  # the price of not reading it
    assert read_from("s3", key) == b"damaged"


def test_a_copy_stored_again_meanwhile_is_checked_against_the_new_row_and_kept(tmp_path):
    """The walk read the row before the blob was deleted and stored again with other content:
    the copy in the new provider matches the new row, so it must not be deleted."""
    (key,) = store(1)
    content = b"stored again under the same key"
    put_into("s3", key, content)
    module = types.ModuleType("restoring")

    @hookimpl(wrapper=True, specname="blobs_open")
    def wrap(key: str):
        stream = yield
        BlobMeta.objects.filter(key=key).update(
            length=len(content), sha256=hashlib.sha256(content).hexdigest()
        )
        return stream

    module.__dict__.update(TRELLIS_IMPLEMENTS={"blobs": ">=1.0,<2"}, blobs_open=wrap)
    out, _ = backfill("--jobs", "1", host_plugins=(module,))
    assert "copied 0, skipped 1, failed 0" in out
    assert "replaced" not in out
    assert read_from("s3", key) == content


def test_scan_source_leaves_content_without_metadata_alone_when_the_copies_differ():
    with selected("filesystem") as host:
        host.call("blobs_write", key="no/metadata", stream=io.BytesIO(b"orphan"))
    put_into("s3", "no/metadata", b"other")
    with pytest.raises(CommandError) as raised:
        backfill("--source", "scan")
    assert (
        "failed: no/metadata: the copy in 's3' has 5 bytes; 'filesystem' lists 6; without "
        "metadata it is unknown which content is right" in raised.value.stdout
    )
    assert read_from("s3", "no/metadata") == b"other"


@pytest.mark.parametrize("args", [(), ("--no-progress",), ("--verbosity", "0")])
def test_progress_goes_to_a_terminal_only(args):
    store(2)
    _, err = backfill(*args, tty=bool(args))
    assert err == ""


def test_the_backfill_module_works_without_the_command(tmp_path):
    keys = store(3)
    seen: list[int] = []
    with selected("migrating") as host:
        run = Backfill(check_migration("filesystem", "s3", host=host), host=host)
        assert (run.resumed, run.remaining()) == (False, 3)
        report = run.run(jobs=2, on_progress=lambda report: seen.append(report.done))
    assert (report.copied, report.skipped, report.failed, report.failures) == (3, 0, 0, {})
    assert seen == [1, 2, 3]
    assert report.size == 3 * 992
    assert report.checkpoint == checkpoint_file(tmp_path)
    assert not checkpoint_file(tmp_path).exists()
    assert all(in_s3(key) for key in keys)
    with pytest.raises(ValueError, match="jobs must be at least 1; got 0"):
        run.run(jobs=0)


CHILD_SETTINGS = """
from trellis.core.testing.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": CHILD_DATABASE}}
TRELLIS_DATA_DIR = CHILD_DATA_DIR
"""

CHILD = """
import io
import sys
import time

import django

django.setup()

from django.core.management import call_command

from trellis import blobs
from trellis.core import get_host, hookimpl, set_host
from trellis.core.testing import isolated_host


def select(provider, *plugins):
    set_host(isolated_host(*plugins, discover=True, providers={"blobs": provider}))


class StallBeforeDelete:
    \"\"\"Announce a delete of content, then wait (for the SIGKILL) before doing it.\"\"\"

    TRELLIS_IMPLEMENTS = {"blobs": ">=1.0,<2"}

    @staticmethod
    @hookimpl(wrapper=True)
    def blobs_delete(key):
        print("deleting", key, flush=True)
        time.sleep(120)
        return (yield)


if sys.argv[1] == "setup":
    call_command("migrate", verbosity=0)
    select("filesystem")
    key = blobs.put(b"household survey" * 64, domain="d", parent_id="p", type_code=1).key
    get_host().call("blobs_delete", key=key)  # the content rots on disk
    get_host().call("blobs_write", key=key, stream=io.BytesIO(b"rotten"))
    print(key)
else:
    select("migrating", *([StallBeforeDelete()] if sys.argv[1] == "stall" else []))
    call_command("blobs_backfill", *sys.argv[2:])
"""


def test_a_run_killed_before_deleting_a_bad_copy_is_caught_by_the_next_run(tmp_path):
    """SIGKILL between copying damaged content and deleting the copy, in a real process."""
    (tmp_path / "child_settings.py").write_text(
        f"CHILD_DATABASE = {str(tmp_path / 'child.sqlite3')!r}\n"
        f"CHILD_DATA_DIR = {str(tmp_path / 'data')!r}\n" + textwrap.dedent(CHILD_SETTINGS),
        encoding="utf-8",
    )
    (tmp_path / "child.py").write_text(textwrap.dedent(CHILD), encoding="utf-8")
    blob_env = {
        name: value for name, value in os.environ.items() if name.startswith("TRELLIS_BLOBS_")
    }
    env = clean_environ(
        {
            **blob_env,
            "DJANGO_SETTINGS_MODULE": "child_settings",
            "PYTHONPATH": str(tmp_path),
            "TMPDIR": str(tmp_path),  # where the test settings make their data directory
        }
    )

    def child(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "child.py", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    setup = child("setup")
    assert setup.returncode == 0, setup.stderr
    key = setup.stdout.split()[-1]

    stalled = subprocess.Popen(
        [sys.executable, "child.py", "stall", "--jobs", "1", "--no-progress"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = stalled.stdout.readline() if stalled.stdout else ""
        assert line == f"deleting {key}\n", line + stalled.communicate()[1]
        stalled.send_signal(signal.SIGKILL)
        assert stalled.wait(timeout=30) == -signal.SIGKILL
    finally:
        stalled.kill()
        stalled.communicate()
    assert read_from("s3", key) == b"rotten"  # the damaged copy the killed run left

    for args in [("--no-progress",), ("--restart", "--read-back", "--no-progress")]:
        run = child("run", *args)
        assert run.returncode == 1, run.stdout + run.stderr
        assert "copied 0, skipped 0, failed 1" in run.stdout
        assert f"failed: {key}: read 6 bytes; the metadata records 1024" in run.stdout
        assert not in_s3(key)
