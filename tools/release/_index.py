"""Package indexes: reading the simple API, a local pypiserver, and idempotent uploads.

Twine refuses ``--skip-existing`` for indexes other than PyPI, so idempotency is done here:
before uploading, each file is looked up on the index's simple page (PEP 691 JSON or PEP 503
HTML, both carry ``sha256``). The same name with the same hash is skipped; the same name with
another hash stops the release, because a published file is never replaced.

The index is read without ever following a redirect to another origin (scheme, host, port):
an index that falls back or redirects to another index for a project it lacks (pypiserver
without ``--disable-fallback``) would let that other index decide what a Trellis name is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ._errors import ReleaseError
from ._proc import environ, run, tool

_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)
_TIMEOUT = 30.0
LOCAL_USER = "trellis-release"


@dataclass(frozen=True)
class Index:
    """Where a release goes: the simple API to read and the URL twine uploads to.

    Credentials never appear in ``repr`` or messages.
    """

    url: str
    upload_url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    local: bool = False

    def __post_init__(self) -> None:
        for value in (self.url, self.upload_url):
            parsed = urllib.parse.urlsplit(value)
            if parsed.scheme not in {"http", "https"} or not parsed.hostname:
                raise ReleaseError(
                    f"index URL {value!r} is not an http(s) URL; pass e.g. "
                    "--index-url https://example.org/simple/"
                )
            if parsed.username or parsed.password:
                raise ReleaseError(
                    "put index credentials in TWINE_USERNAME / TWINE_PASSWORD, not in the URL"
                )

    @property
    def simple(self) -> str:
        return self.url.rstrip("/") + "/"

    def page_url(self, name: str) -> str:
        return f"{self.simple}{canonicalize_name(name)}/"

    def auth_header(self) -> dict[str, str]:
        if not self.username or self.password is None:
            return {}
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def auth_for(self, url: str) -> dict[str, str]:
        """The credentials header for ``url``: only for the index's own scheme, host and port."""
        return self.auth_header() if _origin(url) == _origin(self.simple) else {}

    def twine_env(self) -> dict[str, str]:
        """Environment for twine: credentials from this index, nothing from a .pypirc."""
        env = environ(drop_prefixes=("TWINE_",))
        env["TWINE_NON_INTERACTIVE"] = "1"
        if self.username:
            env["TWINE_USERNAME"] = self.username
        if self.password is not None:
            env["TWINE_PASSWORD"] = self.password
        return env


def index_from_environment(url: str, upload_url: str | None = None) -> Index:
    """An :class:`Index` for ``url`` with credentials from ``TWINE_USERNAME``/``TWINE_PASSWORD``.

    Without ``upload_url`` the upload URL is ``url`` minus a trailing ``simple/`` (or devpi's
    ``+simple/``): the layout of pypiserver and devpi.
    """
    if upload_url is None:
        base = url.rstrip("/")
        for suffix in ("/+simple", "/simple"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        upload_url = base + "/"
    return Index(
        url=url,
        upload_url=upload_url,
        username=os.environ.get("TWINE_USERNAME"),
        password=os.environ.get("TWINE_PASSWORD"),
    )


@dataclass(frozen=True, slots=True)
class IndexFile:
    filename: str
    sha256: str | None
    url: str


class _Links(HTMLParser):
    """The ``<a href>`` links of a PEP 503 page, with their text, and its ``<base href>``.

    The standard library's parser is enough for the one element PEP 503 defines; a client
    library (pypi-simple) would bring requests, Beautiful Soup and pydantic for these lines.
    """

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.base: str | None = None
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href") or None
        elif tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def show_origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, the unit a redirect may not leave."""
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"


class ForeignRedirect(ReleaseError):
    """A URL answered with a redirect to another origin; it was not followed."""

    def __init__(self, url: str, location: str, code: int) -> None:
        self.url, self.location, self.code = url, location, code
        super().__init__(
            f"{url} answered HTTP {code} with a redirect to {location}, on another origin "
            f"({show_origin(location)}, not {show_origin(url)}); it was not followed"
        )


class _SameOriginOnly(urllib.request.HTTPRedirectHandler):
    """Follow a redirect within the same scheme, host and port; refuse any other.

    A redirect to another origin is another index answering for this one: it is never
    followed, so neither credentials nor trust are carried there.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            fp.close()
            raise ForeignRedirect(req.full_url, newurl, code)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginOnly())


def _get(
    url: str, headers: Mapping[str, str], *, peek: bool = False
) -> tuple[str, str, bytes] | None:
    """GET ``url``: (final URL, content type, body), or ``None`` on 404.

    :param peek: ask for one byte only (the status and where the URL leads is what matters).
    :raises ForeignRedirect: the URL redirects to another origin (not followed).
    :raises ReleaseError: any other HTTP error, or the URL cannot be reached.
    """
    headers = {**headers, "Range": "bytes=0-0"} if peek else dict(headers)
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) checked
    try:
        with _OPENER.open(request, timeout=_TIMEOUT) as response:
            body = b"" if peek else response.read()
            return response.geturl(), response.headers.get("Content-Type", ""), body
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise ReleaseError(f"GET {url} answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ReleaseError(f"cannot reach the index at {url}: {exc}") from exc


class OriginRefused(ReleaseError):
    """The release index handed a request to another origin: its set-up, not a passing state."""


def _refuse_redirect(index: Index, name: str, what: str, exc: ForeignRedirect) -> ReleaseError:
    return OriginRefused(
        f"dependency confusion refused: {what} {exc.url} (for {name} on the release index "
        f"{index.simple}) answered HTTP {exc.code} with a redirect to {exc.location}, on "
        f"another origin ({show_origin(exc.location)}); it was not followed and nothing from "
        "there was installed or run. A release index must answer for its own projects only: "
        f"one that falls back or redirects to another index lets that index decide what {name} "
        "is. Start pypiserver with --disable-fallback (or turn off the fallback, proxy or "
        "mirror of your index) — see shared-docs/releasing.md, 'Which index'"
    )


def project_files(index: Index, name: str) -> dict[str, IndexFile]:
    """The files the index lists for project ``name``, by filename (empty if it has none).

    The page is read from the index's own origin only (see :class:`ForeignRedirect`).

    :raises ReleaseError: the page redirects to another origin, or the index cannot be reached
        or answers with an error.
    """
    page = index.page_url(name)
    try:
        got = _get(page, {"Accept": _ACCEPT, **index.auth_for(page)})
    except ForeignRedirect as exc:
        raise _refuse_redirect(index, name, "the page", exc) from exc
    if got is None:
        return {}
    final, content_type, body = got
    files: dict[str, IndexFile] = {}
    if "json" in content_type:
        for entry in json.loads(body)["files"]:
            url = urllib.parse.urljoin(final, entry["url"])
            files[entry["filename"]] = IndexFile(
                entry["filename"], entry.get("hashes", {}).get("sha256"), url
            )
        return files
    parser = _Links()
    parser.feed(body.decode("utf-8", errors="replace"))
    base = urllib.parse.urljoin(final, parser.base) if parser.base else final
    for href, text in parser.links:
        url = urllib.parse.urljoin(base, href)
        parsed = urllib.parse.urlsplit(url)
        filename = urllib.parse.unquote(parsed.path.rsplit("/", 1)[-1]) or text
        digest = None
        if parsed.fragment.startswith("sha256="):
            digest = parsed.fragment.removeprefix("sha256=")
        files[filename] = IndexFile(filename, digest, url)
    return files


def file_sha256(index: Index, entry: IndexFile) -> str:
    """The sha256 of an index file: from its link, else by downloading it.

    :raises ReleaseError: the file redirects to another origin, or cannot be downloaded.
    """
    if entry.sha256:
        return entry.sha256
    url = entry.url.split("#", 1)[0]
    try:
        got = _get(url, index.auth_for(url))
    except ForeignRedirect as exc:
        raise _refuse_redirect(index, entry.filename, "the file", exc) from exc
    if got is None:
        raise ReleaseError(f"the index lists {entry.filename} but {entry.url} answers 404")
    return hashlib.sha256(got[2]).hexdigest()


def check_file_stays(index: Index, name: str, url: str) -> None:
    """Refuse unless downloading ``url`` stays on its own origin (no redirect off it).

    ``url`` is a file the release index lists; an installer fetching it follows redirects,
    so where it leads is checked here before anything installs it (one byte is read).

    :raises ReleaseError: it redirects to another origin, or it is missing.
    """
    try:
        got = _get(url, index.auth_for(url), peek=True)
    except ForeignRedirect as exc:
        raise _refuse_redirect(index, name, "the file", exc) from exc
    if got is None:
        raise ReleaseError(
            f"the release index {index.simple} lists {url} for {name}, but it answers 404"
        )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compare_with_index(
    index: Index, name: str, version: str, files: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Split built files (filename → sha256) into those to upload and those already there.

    :raises ReleaseError: a file of the same name has another hash on the index, or the index
        has other files for this version that this release did not build.
    """
    published = project_files(index, name)
    upload, present = [], []
    for filename, digest in files.items():
        entry = published.get(filename)
        if entry is None:
            upload.append(filename)
            continue
        theirs = file_sha256(index, entry)
        if theirs != digest:
            raise ReleaseError(
                f"{filename} is already on {index.simple} with sha256 {theirs}, but the file "
                f"built now has sha256 {digest}. A published file is never replaced: if the "
                f"published {name} {version} is good, its tag was lost (re-tag that commit); "
                "otherwise add a changelog fragment and release a new version "
                "(see shared-docs/releasing.md, 'same name, different hash')"
            )
        present.append(filename)
    stray = sorted(f for f in published if file_version(f, name) == version and f not in files)
    if stray:
        raise ReleaseError(
            f"{index.simple} already has {name} {version} files this release did not build: "
            f"{', '.join(stray)}; that version was published from another build — release a "
            "new version instead"
        )
    return upload, present


def file_version(filename: str, name: str) -> str | None:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            dist, version, *_ = parse_wheel_filename(filename)
        else:
            dist, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(version) if canonicalize_name(dist) == canonicalize_name(name) else None


def upload(index: Index, files: Sequence[Path]) -> None:
    """Upload ``files`` with twine, in order, in one run.

    :raises ReleaseError: twine failed (its output says which file and why).
    """
    if not files:
        return
    run(
        [
            *tool("twine"),
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            index.upload_url,
            *map(str, files),
        ],
        env=index.twine_env(),
        what=f"twine upload to {index.upload_url}",
        timeout=600,
    )


# -- a local pypiserver ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Runs in the server's process before pypi-server does: asks Linux to SIGKILL it when the
# thread that started it dies (PR_SET_PDEATHSIG = 1; it survives exec), then becomes
# pypi-server (or any server: tools/path uses it too). A release killed with SIGKILL runs no
# `finally`; this way its server goes too.
# A launcher rather than Popen's preexec_fn: preexec_fn is unsafe while other threads run.
_LAUNCHER = """\
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_PDEATHSIG) failed: errno %d" % ctypes.get_errno())
if os.getppid() != int(sys.argv[1]):
    sys.exit("the process that started this server is gone")
os.execv(sys.argv[2], sys.argv[2:])
"""


def tied_to_this_process(command: Sequence[str]) -> list[str]:
    """``command`` wrapped so that it dies with this process (Linux); unchanged elsewhere."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *command]


@contextmanager
def local_index(
    directory: Path, *, log: Path | None = None, port: int | None = None
) -> Iterator[Index]:
    """Run pypiserver on 127.0.0.1 serving ``directory``; yield it as an :class:`Index`.

    Uploads need a per-run random password (htpasswd ``{SHA}`` entry, so no hashing library
    is needed here); reading is anonymous. ``--disable-fallback``: a project the server lacks
    is a 404, never a redirect to the public index. On Linux the server dies with the thread
    that entered this context, even when that process is killed with SIGKILL.

    :param port: the port to serve on (default: a free one).
    """
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    digest = base64.b64encode(hashlib.sha1(password.encode(), usedforsecurity=False).digest())
    htpasswd = directory.parent / f".{directory.name}.htpasswd"
    descriptor = os.open(htpasswd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(f"{LOCAL_USER}:{{SHA}}{digest.decode()}\n")
    port = port or _free_port()
    command = [
        *tool("pypi-server"),
        "run",
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--authenticate",
        "update",
        "--passwords",
        str(htpasswd),
        "--disable-fallback",
        str(directory),
    ]
    log = log or directory.parent / f"{directory.name}.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            tied_to_this_process(command), stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(port, process, log)
        yield Index(
            url=base + "simple/",
            upload_url=base,
            username=LOCAL_USER,
            password=password,
            local=True,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        htpasswd.unlink(missing_ok=True)


def _wait_until_up(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise ReleaseError(
                f"pypi-server exited with status {process.returncode} at start-up:\n{tail}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise ReleaseError(f"pypi-server did not answer on 127.0.0.1:{port} within 30 s; see {log}")
