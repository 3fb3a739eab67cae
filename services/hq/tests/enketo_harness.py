"""Fill and submit forms with Enketo (enketo-core + enketo-transformer) in headless Chromium.

Real OpenRosa web clients render an XForm with Enketo, so the tests do too: ``build()`` bundles
the npm packages pinned in ``enketo/package-lock.json`` (esbuild, into ``enketo/dist/``) and
``Enketo`` serves that bundle inside a Playwright page *at the origin of the server under test*
(``{origin}/__enketo__/...``, answered by ``page.route``, never by the server), so the page can
POST to the server without CORS while every other off-origin request is blocked::

    dist = build()
    page = browser.new_context(http_credentials={...}).new_page()
    enketo = Enketo(page, server.url)
    enketo.load(xform_xml)                          # enketo-transformer + enketo-core's Form
    enketo.field("/data/name").fill("Amina")        # Playwright, like a user
    enketo.add_repeat("/data/members")              # Enketo's "+" button
    xml, instance_id = enketo.serialize()           # Enketo validates; raises if invalid
    status, body = enketo.submit("/submission", xml)  # multipart xml_submission_file

``python services/hq/tests/enketo_harness.py`` (with the tests' venv) builds, fills a form made
with pyxform, submits it to a throwaway local server and prints the XML that arrived.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

HERE = Path(__file__).resolve().parent
ENKETO_DIR = HERE / "enketo"
DIST = ENKETO_DIR / "dist"
PREFIX = "/__enketo__/"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_INSTALL_INPUTS = ("package.json", "package-lock.json")
_BUILD_INPUTS = (*_INSTALL_INPUTS, "build.mjs", "harness.js", "harness.css")
_DIST_FILES = ("index.html", "harness.bundle.js", "harness.css")
_INSTALL_STAMP = "node_modules/.trellis-enketo-installed"
_BUILD_STAMP = "dist/.trellis-enketo-built"


class EnketoBuildError(RuntimeError):
    """``npm ci`` or ``npm run build`` failed; the message names the command, shows its output."""


class EnketoError(RuntimeError):
    """Enketo failed in the page: the form did not load, or a submission could not be sent."""


class EnketoInvalid(AssertionError):
    """Enketo's validation rejected the record (as its Submit button would)."""

    def __init__(self, invalid: list[str], xml: str) -> None:
        super().__init__(f"Enketo says the form is invalid; invalid fields: {invalid}\n{xml}")
        self.invalid = invalid
        self.xml = xml


def _digest(names: tuple[str, ...]) -> str:
    sha = hashlib.sha256()
    for name in names:
        sha.update(name.encode() + b"\0" + (ENKETO_DIR / name).read_bytes() + b"\0")
    return sha.hexdigest()


def _run(command: list[str], timeout: float) -> None:
    shown = " ".join(command)
    try:
        done = subprocess.run(
            command, cwd=ENKETO_DIR, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EnketoBuildError(f"`{shown}` (in {ENKETO_DIR}) failed: {error}") from error
    if done.returncode != 0:
        raise EnketoBuildError(
            f"`{shown}` (in {ENKETO_DIR}) exited {done.returncode}:\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )


@contextmanager
def _locked() -> Iterator[None]:
    """One build at a time (pytest-xdist workers, parallel sessions in one tree)."""
    with (ENKETO_DIR / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build() -> Path:
    """Install (``npm ci``) and bundle (``npm run build``) what is out of date; return ``dist/``.

    ``npm ci`` runs when node_modules is missing or package.json/package-lock.json changed since
    the last install; ``npm run build`` when dist/ is missing or any build input changed. Raises
    ``EnketoBuildError`` naming the command that failed; it never skips.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise EnketoBuildError(
            "`npm` is not on PATH: the Enketo harness needs Node.js >= 20 and npm "
            "(Debian: apt-get install nodejs npm)"
        )
    with _locked():
        install = _digest(_INSTALL_INPUTS)
        stamp = ENKETO_DIR / _INSTALL_STAMP
        if not stamp.is_file() or stamp.read_text() != install:
            _run([npm, "ci", "--no-audit", "--no-fund"], timeout=900)
            stamp.write_text(install)
        built = _digest(_BUILD_INPUTS)
        stamp = ENKETO_DIR / _BUILD_STAMP
        fresh = stamp.is_file() and stamp.read_text() == built
        if not fresh or not all((DIST / name).is_file() for name in _DIST_FILES):
            _run([npm, "run", "build"], timeout=300)
            stamp.write_text(built)
    return DIST


class Enketo:
    """Enketo in a Playwright page, served at ``{origin}/__enketo__/`` by ``page.route``.

    Requests to ``origin`` other than ``/__enketo__/`` go to the real server (through any route
    handlers the test registered earlier); every other request is aborted and listed in
    ``blocked``. JavaScript errors of the page are collected in ``errors``.
    """

    def __init__(self, page: Any, origin: str, *, dist: Path | None = None) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"origin must be like http://127.0.0.1:8000, not {origin!r}")
        self.page = page
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.dist = (dist or build()).resolve()
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.transformed: dict[str, Any] = {}
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console.error: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.route("**/*", self._route)

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def _route(self, route: Any) -> None:
        url = route.request.url
        if not self._same_origin(url):
            self.blocked.append(url)
            route.abort("blockedbyclient")
            return
        path = urlsplit(url).path
        if not path.startswith(PREFIX):
            route.fallback()
            return
        file = (self.dist / path[len(PREFIX) :]).resolve()
        if file.is_relative_to(self.dist) and file.is_file():
            route.fulfill(path=file, headers={"Cache-Control": "no-store"})
        else:
            route.fulfill(status=404, body=f"not in the Enketo bundle: {path}")

    def _evaluate(self, what: str, script: str, arg: Any = None) -> Any:
        from playwright.sync_api import Error

        try:
            return self.page.evaluate(script, arg)
        except Error as error:
            seen = "\n".join(self.errors)
            raise EnketoError(f"{what}: {error.message}\n{seen}".rstrip()) from error

    def load(self, xform_xml: str, externals: dict[str, str] | None = None) -> None:
        """Open the harness page, transform the XForm and initialize Enketo's form.

        ``externals``: secondary instance id → its XML (``<root><item>...``), what Enketo
        Express builds from a form's CSV media (see :func:`csv_instance`).
        """
        self.page.goto(f"{self.origin}{PREFIX}index.html")
        self.page.wait_for_function("() => window.enketoHarnessReady === true")
        given = [{"id": k, "xml": v} for k, v in (externals or {}).items()]
        self.transformed = self._evaluate(
            "Enketo could not load the form",
            "([x, e]) => window.enketoHarness.loadForm(x, e)",
            [xform_xml, given],
        )

    def field(self, name: str) -> Any:
        """The form control(s) bound to ``name`` (an XPath like ``/data/name``), as a Locator."""
        return self.page.locator(f'form.or [name="{name}"]')

    def add_repeat(self, path: str) -> None:
        """Click Enketo's "+" button of the repeat ``path`` (e.g. ``/data/members``)."""
        count = self.page.locator(f'form.or .or-repeat[name="{path}"]').count()
        self.page.locator(f'form.or .or-repeat-info[data-name="{path}"] .add-repeat-btn').click()
        self.page.locator(f'form.or .or-repeat[name="{path}"]').nth(count).wait_for()

    def serialize(self) -> tuple[str, str]:
        """Validate as Enketo's Submit does; return (record XML, its meta/instanceID)."""
        result = self._evaluate(
            "Enketo could not serialize the record", "() => window.enketoHarness.serialize()"
        )
        if not result["valid"]:
            raise EnketoInvalid(result["invalid"], result["xml"])
        return result["xml"], result["instanceId"]

    def submit(
        self, url: str, xml: str, *, deprecated_id: str = "", timeout: float = 30.0
    ) -> tuple[int, str]:
        """POST ``xml`` as Enketo does (multipart ``xml_submission_file``, OpenRosa headers).

        ``url`` may be relative to the origin. A 401 challenge (Basic or Digest) is answered
        only if the browser context was made with ``http_credentials``; wrong credentials give
        the 401 back, but *no* credentials leave Chromium waiting for a login dialog, which
        ends here in ``EnketoError`` after ``timeout`` seconds. Returns (status, body).
        """
        target = urljoin(self.origin + "/", url)
        result = self._evaluate(
            f"Enketo could not POST to {target}",
            "([url, xml, dep, ms]) => window.enketoHarness.submit(url, xml, dep, ms)",
            [target, xml, deprecated_id, int(timeout * 1000)],
        )
        return int(result["status"]), str(result["body"])


# --- self-check: python services/hq/tests/enketo_harness.py -----------------------------------

SELF_CHECK_XLSFORM = """
| survey  |                     |             |                      |          |
|         | type                | name        | label                | required |
|         | text                | name        | Name                 | yes      |
|         | integer             | age         | Age                  |          |
|         | select_one villages | village     | Village              |          |
|         | begin_repeat        | members     | Household members    |          |
|         | text                | member_name | Member name          |          |
|         | end_repeat          |             |                      |          |
|         | note                | thanks      | Thank you, ${name}!  |          |
| choices |                     |             |                      |          |
|         | list_name           | name        | label                |          |
|         | villages            | north       | North                |          |
|         | villages            | south       | South                |          |
| settings |                    |             |                      |          |
|          | form_id            | version     |                      |          |
|          | household_visit    | 2026120701  |                      |          |
"""


def csv_instance(text: str) -> str:
    """A CSV media file as the secondary instance XML Enketo Express makes of it: a ``root``
    with one ``item`` per row, one child per column."""
    import csv
    import io
    from xml.sax.saxutils import escape

    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    items = "".join(
        "<item>"
        + "".join(f"<{h}>{escape(v)}</{h}>" for h, v in zip(header, row, strict=False))
        + "</item>"
        for row in body
    )
    return f"<root>{items}</root>"


def xform_from_markdown(markdown: str, form_name: str = "data") -> str:
    """An XForm from a markdown XLSForm (pyxform, as ODK Central and Kobo convert XLSForms)."""
    from pyxform.xls2xform import convert

    return str(convert(xlsform=markdown, file_type=".md", form_name=form_name).xform)


def _self_check() -> None:
    import email.parser
    import email.policy
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from xml.etree import ElementTree

    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    dist = build()
    print(f"build: {dist} ready in {time.monotonic() - started:.1f} s")
    xform = xform_from_markdown(SELF_CHECK_XLSFORM)

    received: list[dict[str, Any]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            parts = [
                {
                    "name": part.get_param("name", header="content-disposition"),
                    "filename": part.get_filename(),
                    "type": part.get_content_type(),
                    "content": part.get_content(),
                }
                for part in message.iter_parts()
            ]
            received.append({"path": self.path, "headers": dict(self.headers), "parts": parts})
            reply = (
                b'<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
                b'<message nature="submit_success">Thanks</message></OpenRosaResponse>'
            )
            self.send_response(201)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("X-OpenRosa-Version", "1.0")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, format: str, *args: Any) -> None:
            print("local server:", format % args)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(30_000)
            enketo = Enketo(page, origin, dist=dist)
            enketo.load(xform)
            print("transformed by enketo-transformer", enketo.transformed["transformerVersion"])

            try:  # the required question stops Submit, as it does for a user
                enketo.serialize()
                refused: list[str] = []
            except EnketoInvalid as invalid:
                refused = invalid.invalid
            assert "/data/name" in refused, f"Enketo let an empty required name pass: {refused}"

            enketo.field("/data/name").fill("Amina")
            enketo.field("/data/age").fill("34")
            page.get_by_label("South").check()
            enketo.field("/data/members/member_name").nth(0).fill("Baraka")
            enketo.add_repeat("/data/members")
            enketo.field("/data/members/member_name").nth(1).fill("Chiku")
            note = page.locator('form.or [data-contains-ref-target="/data/thanks"]')
            assert "Thank you, Amina!" in note.inner_text(), note.inner_text()

            xml, instance_id = enketo.serialize()
            status, body = enketo.submit("/submission", xml)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()

    assert status == 201, (status, body)
    assert not enketo.blocked, enketo.blocked
    assert not enketo.errors, enketo.errors
    [post] = received
    [part] = post["parts"]
    assert (part["name"], part["filename"], part["type"]) == (
        "xml_submission_file",
        "xml_submission_file",
        "text/xml",
    ), part
    assert post["headers"]["X-OpenRosa-Version"] == "1.0", post["headers"]
    assert post["headers"]["Content-Type"].startswith("multipart/form-data; boundary="), post
    root = ElementTree.fromstring(part["content"])
    values = {
        "id": root.get("id"),
        "version": root.get("version"),
        "name": root.findtext("name"),
        "age": root.findtext("age"),
        "village": root.findtext("village"),
        "members": [m.findtext("member_name") for m in root.findall("members")],
        "instanceID": root.findtext("meta/instanceID"),
    }
    assert values == {
        "id": "household_visit",
        "version": "2026120701",
        "name": "Amina",
        "age": "34",
        "village": "south",
        "members": ["Baraka", "Chiku"],
        "instanceID": instance_id,
    }, values
    assert instance_id.startswith("uuid:"), instance_id
    print(f"POST {post['path']} -> {status}")
    print("headers:", json.dumps(post["headers"], indent=1))
    print(f"part: name={part['name']} filename={part['filename']} type={part['type']}")
    print("received XML:")
    print(part["content"])
    print(f"self-check passed in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    _self_check()
