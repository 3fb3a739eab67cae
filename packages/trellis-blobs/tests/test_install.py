"""trellis-blobs works in a plain Django project (no hq), installed from its wheel.

Builds the trellis-core and trellis-blobs wheels from this checkout, installs them into a fresh
virtual environment with pip (dependencies from the configured index, nothing else), then runs
a small Django project twice: once listing ``"trellis.blobs"`` in ``INSTALLED_APPS`` by hand,
once composed with ``trellis.core.django.compose(globals())``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from trellis.core.testing import build_wheel, clean_environ, venv_python

pytestmark = pytest.mark.slow

PACKAGE = Path(__file__).resolve().parents[1]
CORE = PACKAGE.parent / "trellis-core"

COMMON_SETTINGS = """
from pathlib import Path

BASE = Path(__file__).resolve().parent
SECRET_KEY = "plain-project-test-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE / f"{NAME}.db"}}
DATABASES["default"]["OPTIONS"] = {  # as shared-docs/blobs-providers.md says
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
TRELLIS_BLOBS_ROOT = str(BASE / f"{NAME}-blobs")
"""

FILES = {
    # By hand: the app in INSTALLED_APPS and the download URLs mounted where the project likes.
    "settings_plain.py": 'NAME = "plain"\n'
    + COMMON_SETTINGS
    + """
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "trellis.blobs",
]
ROOT_URLCONF = "urls_plain"
""",
    "urls_plain.py": """
from django.urls import include, path

urlpatterns = [path("files/", include("trellis.blobs.urls"))]
""",
    # Composed: installed plugins add their apps and settings defaults; URLs come from plugins.
    "settings_composed.py": 'NAME = "composed"\n'
    + COMMON_SETTINGS
    + """
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]
ROOT_URLCONF = "urls_composed"

from trellis.core.django import compose

compose(globals())
""",
    "urls_composed.py": """
from trellis.core.django import plugin_urlpatterns

urlpatterns = plugin_urlpatterns()
""",
    # What startproject gives (SQLite without options, no root), plus a provider in settings.py.
    "settings_bare.py": """
from pathlib import Path

BASE = Path(__file__).resolve().parent
SECRET_KEY = "plain-project-test-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "trellis.blobs"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE / "bare.db"}}
TRELLIS_BLOBS_PROVIDER = "s3"
""",
    "check_bare.py": """
import json

import django

django.setup()

from django.core import checks
from trellis.core import get_host

print(json.dumps({
    "provider": get_host().selected_provider("blobs"),
    "checks": {m.id: m.msg for m in checks.run_checks() if m.id.startswith("trellis_blobs")},
}))
""",
    "use_blobs.py": """
import io
import json
import sys

import django

django.setup()

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from trellis import blobs
from trellis.core import get_host, run_health_checks

call_command("check", fail_level="WARNING")
call_command("migrate", verbosity=0)
small = blobs.put(b"hello from a plain project", domain="d", parent_id="p", type_code=1,
                  name="hello.txt", content_type="text/plain")
big = blobs.put(io.BytesIO(b"x" * 3_000_000), domain="d", parent_id="p", type_code=2,
                length=3_000_000)
with blobs.open_blob(big.key) as reader:
    streamed = sum(len(chunk) for chunk in iter(lambda: reader.read(1 << 20), b""))

stranger = Client()
stranger.force_login(get_user_model().objects.create_user("u"))
denied = stranger.get(sys.argv[1] + small.key)
client = Client()
client.force_login(get_user_model().objects.create_user("staff", is_staff=True))
response = client.get(sys.argv[1] + small.key, headers={"Range": "bytes=0-4"})
body = b"".join(response.streaming_content) if response.streaming else response.content
host = get_host()
print(json.dumps({
    "content": blobs.read_bytes(small.key).decode(),
    "streamed": streamed,
    "listed": [info.key for info in blobs.list_blobs(parent_id="p")] == [small.key, big.key],
    "http": [response.status_code, body.decode()],
    "denied": denied.status_code,
    "provider": host.selected_provider("blobs"),
    "plugins": {r.name: r.status for r in host.plugins()},
    "blobs_app": "trellis.blobs" in settings.INSTALLED_APPS,
    "health": run_health_checks(host, only="blobs").status,
}))
""",
}


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        env=clean_environ(env),
        cwd=cwd,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_installs_and_works_in_a_plain_django_project(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    core_wheel = build_wheel(CORE, dist)
    blobs_wheel = build_wheel(PACKAGE, dist)
    with zipfile.ZipFile(blobs_wheel) as archive:
        names = set(archive.namelist())
    for shipped in ("py.typed", "migrations/0001_initial.py", "testing.py", "filesystem.py"):
        assert f"trellis/blobs/{shipped}" in names, shipped
    assert "trellis/__init__.py" not in names  # PEP 420 namespace, shared with trellis-core
    assert not any(name.startswith("tests/") for name in names)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv_python(venv)
    pip = (python, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _run(*pip, "install", core_wheel, blobs_wheel, cwd=tmp_path)
    installed = {
        canonicalize_name(p["name"])
        for p in json.loads(_run(*pip, "list", "--format=json", cwd=tmp_path))
    }
    assert {"trellis-core", "trellis-blobs", "django", "pluggy"} <= installed
    assert "boto3" not in installed  # only with the [s3] extra
    assert "pytest" not in installed  # the contract suite needs trellis-core[testing]

    project = tmp_path / "project"
    project.mkdir()
    for name, source in FILES.items():
        (project / name).write_text(textwrap.dedent(source), encoding="utf-8")

    for variant, prefix in (("plain", "/files/"), ("composed", "/blobs/")):
        output = _run(
            python,
            "use_blobs.py",
            prefix,
            cwd=project,
            env={"DJANGO_SETTINGS_MODULE": f"settings_{variant}", "PYTHONPATH": str(project)},
        )
        result = json.loads(output.strip().splitlines()[-1])
        assert result["content"] == "hello from a plain project", variant
        assert result["streamed"] == 3_000_000
        assert result["listed"] is True
        assert result["http"] == [206, "hello"], variant
        assert result["denied"] == 404, "only staff may download by default"
        assert result["provider"] == "filesystem"
        assert result["blobs_app"] is True
        assert result["health"] == "ok"
        assert all(status == "active" for status in result["plugins"].values()), result
        assert {"core", "blobs", "blobs-filesystem", "blobs-s3"} <= set(result["plugins"])
        stored = [p for p in (project / f"{variant}-blobs").rglob("*") if p.is_file()]
        assert len(stored) == 2, stored

    # The provider named in settings.py is the one selected, and the checks say what is
    # missing for it and for concurrent use of SQLite (boto3 is not installed here).
    output = _run(
        python,
        "check_bare.py",
        cwd=project,
        env={"DJANGO_SETTINGS_MODULE": "settings_bare", "PYTHONPATH": str(project)},
    )
    bare = json.loads(output.strip().splitlines()[-1])
    assert bare["provider"] == "s3"
    assert "needs boto3" in bare["checks"]["trellis_blobs.E003"]
    assert {"trellis_blobs.W002", "trellis_blobs.W003"} <= set(bare["checks"])
