"""The journal is written durably: fsync of the file before the rename, of the directory after."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tools.release import Journal


@pytest.fixture
def syscalls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """``(call, what)`` for every fsync (of a "file" or a "dir") and replace; each is made."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        calls.append(("fsync", kind))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return calls


def test_saving_fsyncs_the_file_then_renames_then_fsyncs_the_directory(tmp_path, syscalls):
    journal = Journal(path=tmp_path / ".release" / "journal.json", id="r1", base_commit="abc")
    journal.save()
    assert syscalls == [("fsync", "file"), ("replace", "journal.json"), ("fsync", "dir")]
    assert Journal.load(journal.path) == journal
    assert sorted(p.name for p in journal.path.parent.iterdir()) == ["journal.json"]


def test_archiving_makes_the_move_durable(tmp_path, syscalls):
    journal = Journal(path=tmp_path / "journal.json", id="r2", base_commit="abc")
    journal.save()
    syscalls.clear()
    archived = journal.archive()
    assert archived == tmp_path / "journals" / "r2.json"
    assert syscalls == [("replace", "r2.json"), ("fsync", "dir"), ("fsync", "dir")]
