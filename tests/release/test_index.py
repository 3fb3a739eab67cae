"""The index side: a real local pypiserver, reading simple pages, and idempotent uploads."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from release_testkit import fake_wheel

from tools.release import (
    Index,
    ReleaseError,
    _index,
    compare_with_index,
    local_index,
    project_files,
)
from tools.release._index import (
    check_file_stays,
    file_sha256,
    index_from_environment,
    sha256,
    upload,
)

pytestmark = pytest.mark.usefixtures("release_tools")


def test_local_index_is_loopback_authenticated_and_never_falls_back(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path / "built", "trellis-thing", "1.0.0")
    with local_index(tmp_path / "index") as index:
        assert index.url.startswith("http://127.0.0.1:") and index.local
        assert project_files(index, "pluggy") == {}, "a missing project is a 404, not PyPI"
        with pytest.raises(ReleaseError, match="403"):
            upload(Index(index.url, index.upload_url, "trellis-release", "wrong"), [wheel])
        upload(index, [wheel])
        files = project_files(index, "Trellis_Thing")
    assert list(files) == [wheel.name]
    assert files[wheel.name].sha256 == sha256(wheel)
    assert not (tmp_path / ".index.htpasswd").exists(), "the per-run password file is removed"


def test_compare_skips_the_same_file_and_refuses_another_with_the_same_name(
    tmp_path: Path,
) -> None:
    published = fake_wheel(tmp_path / "published", "trellis-thing", "1.0.0", note="one")
    rebuilt = fake_wheel(tmp_path / "rebuilt", "trellis-thing", "1.0.0", note="two")
    sdist = "trellis_thing-1.0.0.tar.gz"
    with local_index(tmp_path / "index") as index:
        upload(index, [published])
        upload_now, present = compare_with_index(
            index, "trellis-thing", "1.0.0", {published.name: sha256(published), sdist: "00"}
        )
        assert (upload_now, present) == ([sdist], [published.name])
        with pytest.raises(ReleaseError) as caught:
            compare_with_index(index, "trellis-thing", "1.0.0", {rebuilt.name: sha256(rebuilt)})
    message = str(caught.value)
    assert f"{published.name} is already on {index.simple} with sha256 {sha256(published)}" in (
        message
    )
    assert f"built now has sha256 {sha256(rebuilt)}" in message
    assert "never replaced" in message


def test_compare_refuses_a_version_published_from_another_build(tmp_path: Path) -> None:
    other = fake_wheel(tmp_path / "other", "trellis-thing", "1.0.0")
    renamed = other.with_name("trellis_thing-1.0.0-py2.py3-none-any.whl")
    other.rename(renamed)
    with local_index(tmp_path / "index") as index:
        upload(index, [renamed])
        with pytest.raises(ReleaseError, match="files this release did not build"):
            compare_with_index(index, "trellis-thing", "1.0.0", {"trellis_thing-1.0.0.tar.gz": "0"})


def test_pep691_json_pages_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    page = {
        "files": [
            {
                "filename": "a-1.0-py3-none-any.whl",
                "url": "../../f/a.whl",
                "hashes": {"sha256": "ab"},
            }
        ]
    }

    class Response:
        headers = {"Content-Type": "application/vnd.pypi.simple.v1+json"}

        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def geturl(self) -> str:
            return "https://index.example/simple/a/"

        def read(self) -> bytes:
            return json.dumps(page).encode()

    monkeypatch.setattr(_index._OPENER, "open", lambda *a, **k: Response())
    files = project_files(Index("https://index.example/simple/", "https://index.example/"), "A")
    assert files["a-1.0-py3-none-any.whl"].url == "https://index.example/f/a.whl"
    assert files["a-1.0-py3-none-any.whl"].sha256 == "ab"


def test_credentials_come_from_the_environment_and_never_show(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWINE_USERNAME", "__token__")
    monkeypatch.setenv("TWINE_PASSWORD", "pypi-secret-value")
    index = index_from_environment("https://upload.example/simple/")
    assert index.upload_url == "https://upload.example/"
    assert "secret" not in repr(index)
    assert index.twine_env()["TWINE_PASSWORD"] == "pypi-secret-value"
    with pytest.raises(ReleaseError, match="not in the URL"):
        Index("https://user:pw@index.example/simple/", "https://index.example/")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers each path from ``routes`` (status, headers, body); records what it was sent."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        status, headers, body = self.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def _server(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> Iterator[tuple[str, type]]:
    handler = type("Handler", (_Recorder,), {"routes": routes, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_credentials_go_only_to_the_index_host_and_no_redirect_leaves_it() -> None:
    """A file the page links on another host is read there, anonymously (PyPI's layout).

    A redirect within the index's origin is followed (pypiserver's 301 to a normalised
    name); a redirect to another origin is refused, not followed: neither the credentials
    nor the question "what is b?" go to whoever answers there.
    """
    with _server({"/files/a-1.0.tar.gz": (200, {}, b"data")}) as (other, elsewhere):
        page = f'<a href="{other}/files/a-1.0.tar.gz">a-1.0.tar.gz</a>'.encode()
        routes = {
            "/simple/a/": (200, {"Content-Type": "text/html"}, page),
            "/simple/b/": (302, {"Location": f"{other}/simple/b/"}, b""),
            "/simple/c/": (301, {"Location": "/simple/a/"}, b""),
            "/files/moved.whl": (302, {"Location": f"{other}/files/a-1.0.tar.gz"}, b""),
        }
        with _server(routes) as (base, index_host):
            index = Index(f"{base}/simple/", f"{base}/", "reader", "s3cret")
            files = project_files(index, "a")
            assert file_sha256(index, files["a-1.0.tar.gz"]) == hashlib.sha256(b"data").hexdigest()
            assert index_host.seen[0] == ("/simple/a/", index.auth_header()["Authorization"])
            assert elsewhere.seen == [("/files/a-1.0.tar.gz", None)], "no auth to another host"

            assert list(project_files(index, "c")) == ["a-1.0.tar.gz"], "same origin: followed"
            assert index_host.seen[-1] == ("/simple/a/", index.auth_header()["Authorization"])

            with pytest.raises(ReleaseError) as caught:
                project_files(index, "b")
            message = str(caught.value)
            assert message.startswith("dependency confusion refused: the page ")
            assert f"{base}/simple/b/ (for b on the release index {index.simple})" in message
            assert f"redirect to {other}/simple/b/, on another origin" in message
            assert "--disable-fallback" in message
            with pytest.raises(ReleaseError, match=f"the file {base}/files/moved.whl"):
                check_file_stays(index, "a", f"{base}/files/moved.whl")
            assert len(elsewhere.seen) == 1, "nothing was asked of the other host"


def test_a_pages_base_href_decides_where_its_relative_links_point() -> None:
    page = (
        b'<html><head><base href="/mirror/files/"></head><body>'
        b'<a href="a-1.0-py3-none-any.whl#sha256=ab">a-1.0-py3-none-any.whl</a></body></html>'
    )
    with _server({"/simple/a/": (200, {"Content-Type": "text/html"}, page)}) as (base, _):
        files = project_files(Index(f"{base}/simple/", f"{base}/"), "a")
    entry = files["a-1.0-py3-none-any.whl"]
    assert entry.url == f"{base}/mirror/files/a-1.0-py3-none-any.whl#sha256=ab"
    assert entry.sha256 == "ab"
