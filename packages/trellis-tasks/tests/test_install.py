"""trellis-tasks works in a plain Django project (no hq), installed from its wheel.

Builds the trellis-core and trellis-tasks wheels from this checkout, installs them (without the
``celery`` extra) into a fresh virtual environment with pip, and runs a small Django project:
a plugin module handed to ``compose``, a durable task enqueued in a committed transaction and
one in a rolled-back transaction, the eager worker command, and ``trellis check``.
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

FILES = {
    "settings.py": """
from pathlib import Path

import jobs
from trellis.core.django import compose

BASE = Path(__file__).resolve().parent
SECRET_KEY = "plain-project-test-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE / "db.sqlite3"}}
compose(globals(), plugins=[jobs])
""",
    "jobs.py": """
from trellis.core import hookimpl
from trellis.tasks import claim, task

TRELLIS_IMPLEMENTS = {"tasks": ">=1.0,<2"}

@task(name="jobs.mark", durable=True)
def mark(key: str) -> None:
    claim(key)

@hookimpl
def tasks_handlers():
    return [mark]
""",
    "use_tasks.py": """
import io, json

import django

django.setup()

from django.core.management import call_command
from django.db import transaction
from trellis.core import get_host
from trellis.tasks import TaskArgumentsError, enqueue, get_result
from trellis.tasks.models import IdempotencyKey

call_command("migrate", verbosity=0)
with transaction.atomic():
    kept = enqueue("jobs.mark", key="kept")
try:
    with transaction.atomic():
        enqueue("jobs.mark", key="dropped")
        raise RuntimeError
except RuntimeError:
    pass
try:
    enqueue("jobs.mark", key={1, 2})
    refused = ""
except TaskArgumentsError as exc:
    refused = str(exc)
out = io.StringIO()
call_command("tasks_worker", stdout=out)
host = get_host()
print(json.dumps({
    "keys": sorted(IdempotencyKey.objects.values_list("key", flat=True)),
    "status": get_result(kept.id).status,
    "refused": refused,
    "plugins": {r.name: r.status for r in host.plugins()},
    "problems": host.problems(),
    "provider": host.selected_provider("tasks"),
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
    tasks_wheel = build_wheel(PACKAGE, dist)
    with zipfile.ZipFile(tasks_wheel) as archive:
        names = set(archive.namelist())
    for shipped in ("py.typed", "migrations/0001_initial.py", "testing.py", "celery.py"):
        assert f"trellis/tasks/{shipped}" in names, shipped
    assert "trellis/__init__.py" not in names
    assert not any(name.startswith("tests/") for name in names)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv_python(venv)
    pip = (python, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _run(*pip, "install", core_wheel, tasks_wheel, cwd=tmp_path)
    installed = {
        canonicalize_name(p["name"])
        for p in json.loads(_run(*pip, "list", "--format=json", cwd=tmp_path))
    }
    assert {"trellis-core", "trellis-tasks", "django", "pluggy"} <= installed
    assert not installed & {"celery", "kombu", "redis"}  # only with the [celery] extra

    project = tmp_path / "project"
    project.mkdir()
    for name, source in FILES.items():
        (project / name).write_text(textwrap.dedent(source), encoding="utf-8")
    env = {"DJANGO_SETTINGS_MODULE": "settings", "PYTHONPATH": str(project)}
    result = json.loads(_run(python, "use_tasks.py", cwd=project, env=env).splitlines()[-1])
    assert result["keys"] == ["kept"]
    assert result["status"] == "successful"
    assert "argument 'key' is a set" in result["refused"]
    assert result["provider"] == "eager"
    assert result["problems"] == []
    assert all(status == "active" for status in result["plugins"].values()), result["plugins"]
    assert {"tasks", "tasks-eager", "tasks-celery", "jobs"} <= set(result["plugins"])
