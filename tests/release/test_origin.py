"""Where Trellis files come from: only the release index's own origin, never a fallback.

A release index that falls back or redirects to another index (pypiserver without
``--disable-fallback``) hands a project it lacks to whoever runs that other index. These tests
run two real pypiservers and real uv, with a look-alike ``trellis-core`` whose code leaves a
marker file if it ever runs.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import sys
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from packaging.version import Version
from release_testkit import Released, fallback_index, wheel_with_files

from tools.release import ReleaseError, local_index
from tools.release._index import Index, index_from_environment
from tools.release._verify import PYPI, Target, _clean_env, _uv_env, resolve, verify
from tools.release._workspace import Workspace, load_workspace

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("release_tools")]


def _lookalike(directory: Path, marker: Path) -> None:
    """A higher ``trellis-core`` (wheel and sdist) whose code writes ``marker`` when it runs.

    The wheel's ``.pth`` runs at every interpreter start in the venv it lands in and records
    the environment it saw; the sdist's ``setup.py`` runs if anything builds it.
    """
    leak = (
        f"import os, pathlib; pathlib.Path({str(marker)!r}).write_text("
        "'\\n'.join(f'{k}={v}' for k, v in sorted(os.environ.items())))\n"
    )
    wheel_with_files(
        directory,
        "trellis-core",
        "0.9.0",
        {"trellis_lookalike.pth": leak, "trellis_lookalike_payload.py": "PAYLOAD = True\n"},
    )
    setup = (
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('setup.py ran')\n"
        "from setuptools import setup\nsetup(name='trellis-core', version='0.9.0')\n"
    )
    files = {
        "setup.py": setup,
        "PKG-INFO": "Metadata-Version: 1.0\nName: trellis-core\nVersion: 0.9.0\n",
    }
    with tarfile.open(directory / "trellis_core-0.9.0.tar.gz", "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"trellis_core-0.9.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _copy_files(released: Released, names: tuple[str, ...], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        for filename in released.journal.package(name).files:
            shutil.copy2(released.repo / ".release/index" / filename, directory / filename)


def _demo_target(released: Released) -> tuple[Target, Workspace]:
    workspace = load_workspace(released.repo)
    demo = released.journal.package("trellis-demo")
    target = Target(workspace.projects["trellis-demo"], Version(demo.version), demo.files)
    return target, workspace


def test_a_release_index_that_falls_back_to_another_index_is_refused_before_any_code_runs(
    released: Released, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's blocker: --index-url at a pypiserver with --fallback-url to a look-alike.

    The release index lacks trellis-core, so it redirects that page to the other index, which
    has a higher trellis-core. Nothing of it may be installed or run, and the credentials of
    the release index must not be where its code could read them.
    """
    marker = tmp_path / "lookalike-ran"
    _lookalike(tmp_path / "other", marker)
    _copy_files(released, ("trellis-demo",), tmp_path / "release")
    monkeypatch.setenv("TWINE_USERNAME", "releaser")
    monkeypatch.setenv("TWINE_PASSWORD", "pypi-release-secret")
    target, workspace = _demo_target(released)
    with (
        local_index(tmp_path / "other") as other,
        fallback_index(tmp_path / "release", other.simple) as base,
    ):
        index = index_from_environment(f"{base}simple/")
        with pytest.raises(ReleaseError) as caught:
            verify(target, index, [PYPI], workspace, tmp_path / "state")
    message = str(caught.value)
    leaked = marker.read_text(encoding="utf-8") if marker.exists() else ""
    assert not marker.exists(), f"the look-alike's code ran, with: {leaked[:300]}"
    assert "pypi-release-secret" not in leaked
    assert f"{index.simple}trellis-core/" in message, message
    assert f"{other.simple}trellis-core/" in message, message
    assert "another origin" in message and "--disable-fallback" in message, message
    lock = tmp_path / "state/verify/trellis-demo/pylock.toml"
    assert not lock.exists(), "refused before uv resolved anything"


class _TwoFacedIndex(http.server.BaseHTTPRequestHandler):
    """A simple index that shows urllib its own files but sends uv elsewhere for one project.

    It stands in for any index whose answer to uv differs from the answer the pipeline read
    (a cache, a mirror, a page that changed in between): the lock is what uv resolved, and it
    is what must be proved before anything is installed.
    """

    directory: Path
    redirect_uv: dict[str, str]
    head = False

    def do_HEAD(self) -> None:
        self.head = True
        self.do_GET()

    def do_GET(self) -> None:
        parts = [p for p in self.path.split("/") if p]
        agent = self.headers.get("User-Agent", "")
        if parts[:1] == ["simple"] and len(parts) == 2:
            name = parts[1]
            if agent.startswith("uv") and name in self.redirect_uv:
                self._answer(302, b"", {"Location": self.redirect_uv[name]})
                return
            stem = name.replace("-", "_")
            links = [
                f'<a href="/packages/{f.name}#sha256={hashlib.sha256(f.read_bytes()).hexdigest()}"'
                f">{f.name}</a>"
                for f in sorted(self.directory.iterdir())
                if f.name.startswith(f"{stem}-")
            ]
            if not links:
                self._answer(404, b"", {})
                return
            body = ("<html><body>" + "<br>".join(links) + "</body></html>").encode()
            self._answer(200, body, {"Content-Type": "text/html"})
        elif (
            parts[:1] == ["packages"] and len(parts) == 2 and (self.directory / parts[1]).is_file()
        ):
            self._answer(200, (self.directory / parts[1]).read_bytes(), {})
        else:
            self._answer(404, b"", {})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not self.head:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def _two_faced(directory: Path, redirect_uv: dict[str, str]) -> Iterator[str]:
    handler = type(
        "Handler", (_TwoFacedIndex,), {"directory": directory, "redirect_uv": redirect_uv}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_locked_url_off_the_release_index_is_refused_even_with_a_matching_hash(
    released: Released, tmp_path: Path
) -> None:
    """uv followed a redirect to another host serving the very same bytes: still refused.

    A hash proves the bytes at resolution time; the URL decides where ``uv pip sync`` fetches
    them (and what it follows then). Only URLs the release index itself lists are installed.
    """
    _copy_files(released, ("trellis-core", "trellis-demo"), tmp_path / "release")
    _copy_files(released, ("trellis-core",), tmp_path / "other")
    target, workspace = _demo_target(released)
    work = tmp_path / "work"
    work.mkdir()
    with local_index(tmp_path / "other") as other:
        moved = {"trellis-core": f"{other.simple}trellis-core/"}
        with _two_faced(tmp_path / "release", moved) as base:
            index = Index(f"{base}simple/", base)
            with pytest.raises(ReleaseError) as caught:
                resolve(target, index, [PYPI], workspace, work, Path(sys.executable))
    message = str(caught.value)
    assert "dependency confusion refused" in message, message
    assert f"from {other.url.removesuffix('simple/')}packages/trellis_core-0.2.0" in message, (
        message
    )
    assert f"the release index {index.simple} does not list" in message, message


def test_credentials_are_never_in_the_environment_of_uv_or_the_smoke_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets = {
        "TWINE_USERNAME": "releaser",
        "TWINE_PASSWORD": "twine-secret",
        "GITHUB_TOKEN": "gh-secret",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc-secret",
        "UV_INDEX_RELEASE_PASSWORD": "caller-uv-secret",
        "UV_INDEX_OTHER_USERNAME": "someone",
        "SOME_SERVICE_PASSWORD": "svc-secret",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "PYPI_API_TOKEN": "pypi-secret",
    }
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    local = Index("http://127.0.0.1:1/simple/", "http://127.0.0.1:1/", "release", "pw", local=True)
    for where, env in (("the smoke test", _clean_env()), ("uv", _uv_env(local))):
        found = sorted(k for k in secrets if k in env)
        assert not found, f"{where} would see {found}"
        assert "PATH" in env
    private = Index("https://index.example/simple/", "https://index.example/", "reader", "pw")
    env = _uv_env(private)
    assert env["UV_INDEX_RELEASE_PASSWORD"] == "pw", "the release index's own, for reading it"
    assert not sorted(k for k in secrets if k in env and env[k] == secrets[k])
