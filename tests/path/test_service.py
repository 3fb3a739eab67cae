"""tools/path/_service.py: start, wait for, and stop stage 4's server, or say why it did not start.

The venv here is a test double of the service's venv (a ``python`` that finds a do-nothing
``blobs_service`` module, and a ``gunicorn`` script): it tests the session's handling of the
process, not services/blobs, which stage 4 runs for real.
"""

from __future__ import annotations

import socket
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tools.path import PathError
from tools.path._service import blobs_service

SERVES = """\
import http.server, sys
port = int(sys.argv[sys.argv.index("-b") + 1].rsplit(":", 1)[1])

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health/live" else 404)
        self.end_headers()

http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""
FAILS = 'import sys\nprint("boom: the settings are broken", flush=True)\nsys.exit(3)\n'
HANGS = "import time\ntime.sleep(60)\n"


def fake_venv(tmp_path: Path, gunicorn: str) -> Path:
    venv = tmp_path / "service-venv"
    package = tmp_path / "src" / "blobs_service"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import sys\nsys.exit(0)\n")
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={tmp_path / "src"} exec {sys.executable} "$@"\n')
    script = venv / "bin" / "gunicorn"
    script.write_text(f"#!{sys.executable}\n{textwrap.dedent(gunicorn)}")
    for path in (python, script):
        path.chmod(0o755)
    return venv


def test_the_service_is_up_while_in_use_and_stopped_after(tmp_path: Path):
    commands: list[str] = []
    venv = fake_venv(tmp_path, SERVES)
    with blobs_service(venv, tmp_path / "service", log=lambda _: None, commands=commands) as up:
        assert up.url.startswith("http://127.0.0.1:") and up.url.endswith("/remote/")
        assert len(up.secret) == 64 and int(up.secret, 16) >= 0
        live = up.url.replace("/remote/", "/health/live")
        with urllib.request.urlopen(live, timeout=5) as response:
            assert response.status == 200
        port = int(up.url.split(":")[2].split("/")[0])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert commands[0].endswith("-m blobs_service migrate --no-input")
    assert "blobs_service.wsgi:application -b 127.0.0.1:" in commands[1]
    assert commands[1].endswith("-w 2 --threads 4 --timeout 60")


def test_a_service_that_exits_at_start_up_shows_its_log(tmp_path: Path):
    venv = fake_venv(tmp_path, FAILS)
    with (
        pytest.raises(PathError, match="exited with status 3 at start-up") as raised,
        blobs_service(venv, tmp_path / "service", log=lambda _: None, commands=[]),
    ):
        pass
    assert "boom: the settings are broken" in str(raised.value)


def test_a_service_that_never_answers_fails_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("tools.path._service.START_SECONDS", 1.0)
    venv = fake_venv(tmp_path, HANGS)
    with (
        pytest.raises(PathError, match=r"did not answer GET .*/health/live with 200 within 1 s"),
        blobs_service(venv, tmp_path / "service", log=lambda _: None, commands=[]),
    ):
        pass
