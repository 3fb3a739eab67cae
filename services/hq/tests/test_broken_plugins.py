"""A plugin that fails while hq is composed is quarantined: hq stays up and check agrees.

Four broken plugin distributions are really installed (overlay venv); hq then runs under
gunicorn from that venv, and ``trellis check`` runs with ``DJANGO_SETTINGS_MODULE=hq.settings``.
Both must name the same four plugins, and strict mode must refuse to start in both.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from trellis.core.testing import (
    clean_environ,
    make_overlay_venv,
    pip_install,
    run_trellis,
    stop_process,
    write_plugin_project,
)

TOKEN = "hq-broken-plugins-monitor-4Tc9Hd1Mf6Gj0Se5Ua"
HEADER = """
from trellis.core import UrlMount, hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}
"""
BROKEN = {
    # the common slip: a prefix without its trailing slash
    "tt_badmount": HEADER
    + """
@hookimpl
def core_url_mounts():
    return [UrlMount("badprefix", "tt_badmount.urls")]
""",
    "tt_raisingapps": HEADER
    + """
@hookimpl
def core_django_apps():
    raise RuntimeError("apps exploded")
""",
    "tt_raisingmounts": HEADER
    + """
@hookimpl
def core_url_mounts():
    raise KeyError("mounts exploded")
""",
    "tt_missingurls": HEADER
    + """
@hookimpl
def core_url_mounts():
    return [UrlMount("missing/", "tt_missingurls.no_such_urls")]
""",
}
REASONS = {
    "tt_badmount": "core_url_mounts raised TrellisError: URL prefix 'badprefix' is invalid",
    "tt_raisingapps": "core_django_apps raised RuntimeError: apps exploded",
    "tt_raisingmounts": "core_url_mounts raised KeyError: 'mounts exploded'",
    "tt_missingurls": "URLconf 'tt_missingurls.no_such_urls' of mount 'missing/' cannot be used",
}


@pytest.fixture(scope="module")
def broken_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("broken")
    python = make_overlay_venv(root / "venv")
    projects = [
        write_plugin_project(
            root / name, name.replace("_", "-"), source, {name: name}, version="0.1.0"
        )
        for name, source in BROKEN.items()
    ]
    pip_install(python, *projects)
    return python


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return clean_environ(
        {
            "DJANGO_SETTINGS_MODULE": "hq.settings",
            "TRELLIS_DATA_DIR": str(data_dir),
            "TRELLIS_MONITORING_TOKEN": TOKEN,
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )


def _get(url: str, token: bool = False) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_trellis_check_names_every_plugin_hq_would_quarantine(broken_venv, tmp_path):
    result = run_trellis(broken_venv, "check", env=_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    for name, reason in REASONS.items():
        line = next((line for line in result.stdout.splitlines() if f"plugin {name!r}" in line), "")
        assert "is quarantined: failed while composing the service" in line, result.stdout
        assert reason in line, line
    strict = run_trellis(broken_venv, "check", env=_env(tmp_path, TRELLIS_STRICT="1"), cwd=tmp_path)
    assert strict.returncode == 1
    assert "strict mode" in strict.stderr + strict.stdout


def test_hq_stays_up_and_reports_the_same_plugins(broken_venv, tmp_path):
    env = _env(tmp_path)
    subprocess.run(
        [str(broken_venv), "-m", "hq", "migrate", "--no-input"],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(broken_venv), "-m", "gunicorn", "hq.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(url + "/health/live")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert _get(url + "/admin/login/")[0] == 200
        status, body = _get(url + "/health?only=plugins", token=True)
        plugins = json.loads(body)["checks"][0]
        assert (status, plugins["status"]) == (200, "warn")
        assert set(plugins["details"]["quarantined"]) == set(BROKEN)
        for name, reason in REASONS.items():
            assert reason in plugins["details"]["quarantined"][name]
        status, page = _get(url + "/", token=True)
        assert status == 200 and "apps exploded" in page
    finally:
        stop_process(process)
    warnings = [line for line in log.read_text().splitlines() if "quarantined:" in line]
    for name in BROKEN:
        assert sum(f"plugin {name!r} quarantined" in line for line in warnings) == 1, warnings

    strict = subprocess.run(
        [str(broken_venv), "-m", "hq", "check"],
        env=_env(tmp_path, TRELLIS_STRICT="1"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert strict.returncode != 0
    assert "strict mode" in strict.stderr
