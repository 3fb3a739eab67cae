"""Installing a plugin distribution adds its Django app and URLs to hq; uninstalling removes them.

No file of hq changes: the composed settings and URLconf pick up whatever is installed. The
plugin is a real distribution installed into an overlay venv, and hq runs in a subprocess of
that venv each time (Django settings and entry points are read once per process).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from trellis.core.testing import (
    clean_environ,
    make_overlay_venv,
    pip_install,
    pip_uninstall,
    write_plugin_project,
)

HQ_SRC = Path(__file__).resolve().parents[1] / "src"
DIST = "tt-hello-app"
PACKAGE = "tt_hello"
PLUGIN = "tt_hello"
BODY = "hello from an installed plugin"

PLUGIN_SOURCE = """
from trellis.core import UrlMount, hookimpl

TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}


@hookimpl
def core_django_apps():
    return ["tt_hello"]


@hookimpl
def core_url_mounts():
    return [UrlMount("hello/", "tt_hello.urls")]
"""

APP_FILES = {
    "tt_hello/apps.py": """
        from django.apps import AppConfig


        class HelloConfig(AppConfig):
            name = "tt_hello"
            default_auto_field = "django.db.models.BigAutoField"
    """,
    "tt_hello/views.py": f"""
        from django.http import HttpResponse


        def hello(request):
            return HttpResponse({BODY!r}, content_type="text/plain")
    """,
    "tt_hello/urls.py": """
        from django.urls import path

        from . import views

        app_name = "tt_hello"
        urlpatterns = [path("", views.hello, name="hello")]
    """,
}

# Runs in the venv: boot hq as a deployment would and report what it composed.
PROBE = """
import json

import django

django.setup()

import hq
from django.conf import settings
from django.test import Client
from django.urls import NoReverseMatch, reverse
from trellis.core import get_host

response = Client(SERVER_NAME="localhost").get("/hello/")
try:
    url = reverse("tt_hello:hello")
except NoReverseMatch:
    url = None
print(json.dumps({
    "hq": hq.__file__,
    "installed_apps": list(settings.INSTALLED_APPS),
    "status": response.status_code,
    "body": response.content.decode("utf-8", "replace"),
    "reverse": url,
    "plugins": {r.name: [r.status, r.reason] for r in get_host().plugins()},
}))
"""


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _probe(python: Path, data_dir: Path) -> dict[str, Any]:
    env = clean_environ(
        {"DJANGO_SETTINGS_MODULE": "hq.settings", "TRELLIS_DATA_DIR": str(data_dir)}
    )
    result = subprocess.run(
        [str(python), "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["hq"]).resolve().is_relative_to(HQ_SRC), report["hq"]
    return report


@pytest.fixture
def venv_python(tmp_path: Path) -> Path:
    return make_overlay_venv(tmp_path / "venv")


def test_installing_a_plugin_adds_its_app_and_urls_and_uninstalling_removes_them(
    tmp_path: Path, venv_python: Path
) -> None:
    hq_before = _tree_hash(HQ_SRC)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    project = write_plugin_project(
        tmp_path / DIST,
        DIST,
        PLUGIN_SOURCE,
        {PLUGIN: f"{PACKAGE}.trellis_plugin"},
        module=f"{PACKAGE}.trellis_plugin",
        version="0.3.0",
        files=APP_FILES,
    )

    before = _probe(venv_python, data_dir)
    assert PACKAGE not in before["installed_apps"]
    assert PLUGIN not in before["plugins"]
    assert before["status"] == 404

    pip_install(venv_python, project)
    installed = _probe(venv_python, data_dir)
    assert installed["plugins"][PLUGIN] == ["active", ""]
    assert installed["installed_apps"].count(PACKAGE) == 1
    assert (
        installed["installed_apps"][: len(before["installed_apps"])] == before["installed_apps"]
    ), "plugin apps are appended after the project's own"
    assert (installed["status"], installed["body"]) == (200, BODY)
    assert installed["reverse"] == "/hello/"

    pip_uninstall(venv_python, DIST)
    removed = _probe(venv_python, data_dir)
    assert PLUGIN not in removed["plugins"]
    assert removed["installed_apps"] == before["installed_apps"]
    assert removed["status"] == 404
    assert removed["reverse"] is None

    assert _tree_hash(HQ_SRC) == hq_before, "hq's source changed"
