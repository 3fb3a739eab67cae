"""The local index's server: its life is the run's, and a port's past never leaks into a check."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version
from release_testkit import ROOT, Released

from tools.release import local_index
from tools.release._index import sha256
from tools.release._verify import PYPI, Target, verify
from tools.release._workspace import load_workspace

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]

_HOLD_AN_INDEX = """\
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from tools.release._index import local_index
with local_index(Path(sys.argv[2])) as index:
    print(index.url, flush=True)
    time.sleep(3600)
"""


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _servers_of(directory: Path) -> list[int]:
    """The pids of pypi-server processes serving ``directory`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"pypi-server" in a for a in argv) and str(directory).encode() in argv:
            found.append(int(entry.name))
    return found


def test_a_killed_release_leaves_no_index_server_behind(tmp_path: Path) -> None:
    directory = tmp_path / "index"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AN_INDEX, str(ROOT), str(directory)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        url = holder.stdout.readline().strip()
        port = int(url.split(":")[2].split("/")[0])
        assert _answers(port), f"the local index at {url} is up while its run lives"
        holder.send_signal(signal.SIGKILL)  # no finally, no atexit: only the kernel knows
        holder.wait()
        deadline = time.monotonic() + 30
        while _answers(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _servers_of(directory)
        assert not _answers(port) and not left, (
            f"after SIGKILL of its run, pypi-server (pids {left}) still serves {directory} at {url}"
        )
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
        for pid in _servers_of(directory):
            os.kill(pid, signal.SIGKILL)


def _rebuilt(wheel: Path, directory: Path) -> Path:
    """Another build of the same version: same name, one more module, so other bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / wheel.name
    extra = "trellis/demo/_build.py"
    text = b'BUILD = "B"\n'
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                digest = base64.urlsafe_b64encode(hashlib.sha256(text).digest()).rstrip(b"=")
                data = f"{extra},sha256={digest.decode()},{len(text)}\n".encode() + data
            out.writestr(item, data)
        out.writestr(extra, text)
    return target


@pytest.mark.parametrize("kept_cache", [False, True], ids=["own-cache", "kept-cache"])
def test_another_build_of_a_version_on_a_reused_port_verifies_without_a_false_mismatch(
    released: Released, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept_cache: bool
) -> None:
    """Build A of trellis-demo 0.4.0 served and verified on a port; then build B, same port.

    uv caches downloads by URL. Each verification with a cache of its own, or both with the
    one cache the pipeline keeps across runs (``uv_cache=``, where every Trellis name is
    refreshed from the release index), must install build B, never a cached build A that
    fails on a hash mismatch that is not there. The developer's UV_CACHE_DIR is never used.
    """
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "developer-uv-cache"))
    kept = {"uv_cache": tmp_path / "kept-uv-cache"} if kept_cache else {}
    repo = released.repo
    workspace = load_workspace(repo)
    demo = released.journal.package("trellis-demo")
    first, second = tmp_path / "a", tmp_path / "b"
    for directory in (first, second):
        directory.mkdir()
        for filename in released.journal.package("trellis-core").files:
            shutil.copy2(repo / ".release/index" / filename, directory / filename)
    for filename in demo.files:
        shutil.copy2(repo / ".release/index" / filename, first / filename)
    wheel = next(f for f in demo.files if f.endswith(".whl"))
    other = _rebuilt(repo / ".release/index" / wheel, second)
    assert sha256(other) != demo.files[wheel]
    project = workspace.projects["trellis-demo"]

    with local_index(first) as index:
        port = int(index.url.split(":")[2].split("/")[0])
        build_a = Target(project, Version("0.4.0"), demo.files)
        verify(build_a, index, [PYPI], workspace, tmp_path, **kept)
    if kept_cache:
        assert any(kept["uv_cache"].iterdir())
    with local_index(second, port=port) as index:
        assert index.url == f"http://127.0.0.1:{port}/simple/"
        build_b = Target(project, Version("0.4.0"), {wheel: sha256(other)})
        proof = verify(build_b, index, [PYPI], workspace, tmp_path, **kept)
    files = {r["name"]: r["files"] for r in proof["resolved"]}["trellis-demo"]
    assert [f["sha256"] for f in files] == [sha256(other)]
    assert not (tmp_path / "developer-uv-cache").exists()
