"""trellis-events works in a plain Django project (no hq), installed from its wheel.

Builds the trellis-core and trellis-events wheels from this checkout, installs them into a
fresh virtual environment with pip, then runs a small Django project twice: once listing
``"trellis.events"`` in ``INSTALLED_APPS`` by hand (its own plugin passed to ``compose``), and
once asking for the redis-streams provider without the ``redis`` extra.
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
    "shop.py": """
from trellis import events
from trellis.core import hookimpl

TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2"}
SEEN = []


def ship(batch):
    for event in batch:
        with events.once("shipping", event) as first:
            if first:
                SEEN.append(event.payload["order"])


@hookimpl
def events_topics():
    return [events.Topic("shop.order")]


@hookimpl
def events_processors():
    return [events.Processor("shipping", ["shop.order"], ship)]
""",
    "settings_plain.py": """
from pathlib import Path

import shop
from trellis.core.django import compose

BASE = Path(__file__).resolve().parent
SECRET_KEY = "plain-project-test-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "trellis.events"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE / "plain.db"}}
compose(globals(), plugins=[shop])
""",
    "use_events.py": """
import json

import django

django.setup()

from django.core import checks
from django.core.management import call_command
from django.db import transaction

import shop
from trellis import events
from trellis.core import get_host, run_health_checks

call_command("migrate", verbosity=0)
with transaction.atomic():
    events.publish(topic="shop.order", key="o-1", payload={"order": 1})
try:
    with transaction.atomic():
        events.publish(topic="shop.order", key="o-2", payload={"order": 2})
        raise RuntimeError
except RuntimeError:
    pass
try:
    events.publish(topic="shop.nope", key="o-3", payload={})
except events.UnknownTopic as exc:
    unknown = str(exc)
host = get_host()
print(json.dumps({
    "seen": shop.SEEN,
    "unknown": unknown,
    "provider": host.selected_provider("events"),
    "plugins": {r.name: r.status for r in host.plugins()},
    "health": run_health_checks(host, only="events.processors").status,
    "checks": {m.id: m.msg for m in checks.run_checks() if m.id.startswith("trellis_events")},
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
    events_wheel = build_wheel(PACKAGE, dist)
    with zipfile.ZipFile(events_wheel) as archive:
        names = set(archive.namelist())
    for shipped in ("py.typed", "migrations/0001_initial.py", "testing.py", "redis_streams.py"):
        assert f"trellis/events/{shipped}" in names, shipped
    assert "trellis/__init__.py" not in names  # PEP 420 namespace, shared with trellis-core
    assert not any(name.startswith("tests/") for name in names)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv_python(venv)
    pip = (python, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _run(*pip, "install", core_wheel, events_wheel, cwd=tmp_path)
    installed = {
        canonicalize_name(p["name"])
        for p in json.loads(_run(*pip, "list", "--format=json", cwd=tmp_path))
    }
    assert {"trellis-core", "trellis-events", "django", "pluggy"} <= installed
    assert "redis" not in installed  # only with the [redis] extra
    assert "pytest" not in installed

    project = tmp_path / "project"
    project.mkdir()
    for name, source in FILES.items():
        (project / name).write_text(textwrap.dedent(source), encoding="utf-8")
    env = {"DJANGO_SETTINGS_MODULE": "settings_plain", "PYTHONPATH": str(project)}
    result = json.loads(_run(python, "use_events.py", cwd=project, env=env).splitlines()[-1])
    assert result["seen"] == [1], "committed: handled inline; rolled back: never"
    assert "'shop.nope'" in result["unknown"] and "shop.order" in result["unknown"]
    assert result["provider"] == "inline"
    assert result["health"] == "ok"
    assert result["checks"] == {}
    assert all(status == "active" for status in result["plugins"].values()), result
    assert {"core", "events", "events-inline", "events-redis"} <= set(result["plugins"])

    env["TRELLIS_EVENTS_PROVIDER"] = "redis-streams"
    result = json.loads(_run(python, "use_events.py", cwd=project, env=env).splitlines()[-1])
    assert result["seen"] == [], "redis-streams leaves events to events_consume"
    assert "needs the redis client" in result["checks"]["trellis_events.E003"]
