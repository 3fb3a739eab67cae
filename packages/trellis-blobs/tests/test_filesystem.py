"""The filesystem provider: the contract suite, plus what is particular to files."""

from __future__ import annotations

import errno
import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from trellis.blobs import BlobIntegrityError, InvalidKey, KeyExists, NotFound, filesystem
from trellis.blobs.testing import BlobsContract, PatternStream, StreamFailure
from trellis.core.testing import isolated_host


class TestFilesystemProvider(BlobsContract):
    provider = "filesystem"
    discover = True


@pytest.fixture
def host():
    from trellis.blobs import plugin

    return isolated_host(plugin, filesystem, providers={"blobs": "filesystem"})


def write(host, key: str, content: bytes) -> int:
    return host.call("blobs_write", key=key, stream=io.BytesIO(content))


def test_layout_fans_out_by_hash_and_suffixes_key_directories(blob_root):
    path = filesystem.path_for("forms/123/photo.jpg")
    relative = path.relative_to(blob_root.resolve()).parts
    assert len(relative[0]) == len(relative[1]) == 2
    assert relative[2:] == ("forms~", "123~", "photo.jpg")
    assert filesystem.path_for("photo.jpg").parent.parent.parent == blob_root.resolve()


def test_keys_spread_over_fan_out_directories(host, blob_root):
    for n in range(200):
        write(host, f"k{n}", b"x")
    first_level = [p for p in blob_root.iterdir() if p.is_dir()]
    assert len(first_level) > 100  # 200 keys over 256 directories


@pytest.mark.parametrize(
    "key", ["../x", "/abs", "a\x00b", "a/../../b", "", "a//b", "./a", "a b", "a\\b", "~x"]
)
def test_keys_that_could_escape_are_refused_by_every_hook(host, key, stored_files):
    with pytest.raises(InvalidKey):
        write(host, key, b"x")
    for hook in ("blobs_open", "blobs_delete", "blobs_exists"):
        with pytest.raises(InvalidKey):
            host.call(hook, key=key)
    assert stored_files() == []


def test_symbolic_link_out_of_the_root_is_refused(host, blob_root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    bucket = filesystem.path_for("secret").parent
    bucket.parent.mkdir(parents=True)
    bucket.symlink_to(outside, target_is_directory=True)
    with pytest.raises(BlobIntegrityError, match=r"damaged.*symbolic link"):
        write(host, "secret", b"x")
    assert list(outside.iterdir()) == []
    for hook in ("blobs_open", "blobs_exists", "blobs_delete"):
        with pytest.raises(BlobIntegrityError, match="symbolic link"):
            host.call(hook, key="secret")


@pytest.mark.parametrize("damage", ["directory", "symlink", "fifo"])
def test_anything_but_a_file_in_the_contents_place_is_an_integrity_error(host, damage):
    write(host, "other", b"another key's content")
    path = filesystem.path_for("damaged/key")
    path.parent.mkdir(parents=True)
    if damage == "directory":
        path.mkdir()
    elif damage == "symlink":
        path.symlink_to(filesystem.path_for("other"))  # inside the root: still never followed
    else:
        os.mkfifo(path)  # opening it must not block
    with pytest.raises(BlobIntegrityError, match=r"'damaged/key' is damaged"):
        host.call("blobs_open", key="damaged/key")
    with pytest.raises(BlobIntegrityError):
        host.call("blobs_exists", key="damaged/key")
    if damage == "directory":
        with pytest.raises(BlobIntegrityError, match="a directory"):
            host.call("blobs_delete", key="damaged/key")
    else:  # a link or a FIFO is removed like a file; what it pointed to is untouched
        assert host.call("blobs_delete", key="damaged/key") is True
        assert not os.path.lexists(path)
        assert host.call("blobs_exists", key="other") is True


def test_write_is_atomic_and_leaves_no_temporary_file(host, stored_files):
    write(host, "a/b", b"content")
    [stored] = stored_files()
    assert stored.endswith(os.path.join("a~", "b"))
    mode = filesystem.path_for("a/b").stat().st_mode & 0o777
    assert mode == 0o600  # content of uploads is not readable by other users


def test_failed_write_removes_its_temporary_file(host, stored_files):
    with pytest.raises(StreamFailure):
        host.call("blobs_write", key="x/y", stream=PatternStream(5_000_000, fail_after=2_000_000))
    assert stored_files() == []


def test_existing_content_is_never_replaced(host):
    write(host, "fixed", b"first")
    with pytest.raises(KeyExists, match="'fixed'"):
        write(host, "fixed", b"second")
    with host.call("blobs_open", key="fixed") as stream:
        assert stream.read() == b"first"


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP])
def test_filesystems_without_hard_links_fall_back_to_rename(host, monkeypatch, code, stored_files):
    def no_links(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "link", no_links)
    write(host, "nolink", b"content")
    with host.call("blobs_open", key="nolink") as stream:
        assert stream.read() == b"content"
    with pytest.raises(KeyExists):
        write(host, "nolink", b"other")
    assert len(stored_files()) == 1


def test_other_link_errors_propagate(host, monkeypatch, stored_files):
    def broken(src, dst):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "link", broken)
    with pytest.raises(OSError, match="I/O error"):
        write(host, "io", b"content")
    assert stored_files() == []


def test_delete_prunes_key_directories_but_not_fan_out(host, blob_root):
    write(host, "deep/er/key", b"x")
    bucket = filesystem.path_for("deep/er/key").parents[2]
    assert host.call("blobs_delete", key="deep/er/key") is True
    assert bucket.is_dir()
    assert list(bucket.iterdir()) == []


def test_delete_keeps_directories_still_in_use(host):
    write(host, "shared/one", b"1")
    write(host, "shared/two", b"2")
    host.call("blobs_delete", key="shared/one")
    with host.call("blobs_open", key="shared/two") as stream:
        assert stream.read() == b"2"


def test_write_survives_a_directory_pruned_concurrently(host, monkeypatch):
    real_mkstemp = filesystem.tempfile.mkstemp
    calls = []

    def racing_mkstemp(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # a delete removed the empty directory after it was made
            os.rmdir(kwargs["dir"])
            raise FileNotFoundError(errno.ENOENT, "gone")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(filesystem.tempfile, "mkstemp", racing_mkstemp)
    write(host, "race/key", b"x")
    assert len(calls) == 2
    assert host.call("blobs_exists", key="race/key")


def test_scan_skips_temporary_and_stray_files(host, blob_root):
    write(host, "real/one", b"1")
    bucket = filesystem.path_for("real/one").parent
    (bucket / "~tmp-abc").write_bytes(b"partial")
    (blob_root / "README").write_text("not a blob")
    (bucket / "misplaced").write_bytes(b"in the wrong fan-out directory")
    (bucket / "bad name").write_bytes(b"not a key")
    assert [b.key for b in host.call("blobs_scan")] == ["real/one"]


def test_scan_of_a_missing_root_is_empty(host):
    assert list(host.call("blobs_scan")) == []


def test_open_missing_names_the_key_and_root(host, blob_root):
    with pytest.raises(NotFound, match=f"'nope'.*{blob_root.name}"):
        host.call("blobs_open", key="nope")


def test_stale_temporary_files_are_removed(host, blob_root):
    write(host, "kept", b"x")
    bucket = filesystem.path_for("kept").parent
    old, new = bucket / "~tmp-old", bucket / "~tmp-new"
    old.write_bytes(b"1")
    new.write_bytes(b"2")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert filesystem.remove_stale_temp_files(timedelta(minutes=30)) == 1
    assert not old.exists()
    assert new.exists()
    assert filesystem.path_for("kept").exists()


def test_root_from_environment_then_setting_then_data_dir(monkeypatch, settings, tmp_path):
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(tmp_path / "env"))
    settings.TRELLIS_BLOBS_ROOT = str(tmp_path / "setting")
    assert filesystem.path_for("k").is_relative_to(tmp_path / "env")
    monkeypatch.delenv("TRELLIS_BLOBS_ROOT")
    assert filesystem.path_for("k").is_relative_to(tmp_path / "setting")
    del settings.TRELLIS_BLOBS_ROOT
    settings.TRELLIS_DATA_DIR = str(tmp_path / "data")
    assert filesystem.path_for("k").is_relative_to(tmp_path / "data" / "blobs")
    del settings.TRELLIS_DATA_DIR
    monkeypatch.setenv("TRELLIS_DATA_DIR", str(tmp_path / "envdata"))
    assert filesystem.path_for("k").is_relative_to(tmp_path / "envdata" / "blobs")
    monkeypatch.delenv("TRELLIS_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    assert filesystem.path_for("k").is_relative_to(Path(tmp_path, "var", "blobs").resolve())
