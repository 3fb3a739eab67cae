"""pytest plugin (entry point ``pytest11``): fixtures for testing Trellis plugins."""

from __future__ import annotations

import pkgutil
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import trellis

from .._global import get_host
from .._host import Host
from .._records import PluginRecord
from ._services import postgres_database
from ._suite import isolated_host


def _contract_suite_modules() -> list[str]:
    """Every installed ``trellis.<name>.testing`` module name not imported yet.

    Contract suites (``trellis.blobs.testing.BlobsContract``) assert inside those modules;
    pytest rewrites their asserts, so a failing provider shows the values compared, only if
    told before they are imported. Listing the namespace package's folders imports nothing.
    (``trellis.core.testing``, imported to reach this module, asserts nothing itself.)
    """
    names = (f"trellis.{info.name}.testing" for info in pkgutil.iter_modules(trellis.__path__))
    return sorted(name for name in names if name not in sys.modules)


pytest.register_assert_rewrite(*_contract_suite_modules())


@pytest.fixture(autouse=True)
def _trellis_fresh_urlconf() -> Iterator[None]:
    """A URLconf made of plugin mounts (``plugin_urlpatterns()``) lists those of the host
    active when it was imported. One imported during a test (perhaps under the test's own
    host) is forgotten afterwards, so later tests in the process build it again."""
    try:
        from django.conf import settings
    except ImportError:  # trellis-core without its django extra: no URLconf to forget
        yield
        return
    name = getattr(settings, "ROOT_URLCONF", None) if settings.configured else None
    before = sys.modules.get(name) if isinstance(name, str) else None
    yield
    if isinstance(name, str) and sys.modules.get(name) is not before:
        from django.urls import clear_url_caches

        sys.modules.pop(name, None)
        clear_url_caches()


@pytest.fixture
def trellis_host() -> Host:
    """A fresh host with trellis-core's built-ins only: no entry points, no environment."""
    return isolated_host()


@pytest.fixture
def trellis_postgres_database() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database for one test, dropped afterwards.

    Needs psycopg; fails under CI and skips locally when the server is unreachable.
    """
    with postgres_database() as url:
        yield url


POSTGRES_SETTINGS = """
import dj_database_url
from trellis.core.testing.settings import *  # noqa: F403

DATABASES = {"default": dj_database_url.parse(DATABASE)}
"""


@pytest.fixture
def trellis_postgres_script(
    trellis_postgres_database: str, tmp_path: Any
) -> Callable[[str], dict[str, Any]]:
    """Run a script in a fresh process, Django set up on a fresh PostgreSQL database with
    ``trellis.core.testing.settings`` (every installed plugin; blobs under ``tmp_path``), and
    return the JSON object its last line prints. The script calls ``django.setup()`` and
    ``migrate`` itself."""
    import json
    import subprocess
    import textwrap

    from ._dists import clean_environ

    def run(script: str) -> dict[str, Any]:
        (tmp_path / "pg_settings.py").write_text(
            f"DATABASE = {trellis_postgres_database!r}\n" + textwrap.dedent(POSTGRES_SETTINGS),
            encoding="utf-8",
        )
        (tmp_path / "script.py").write_text(textwrap.dedent(script), encoding="utf-8")
        env = clean_environ(
            {
                "DJANGO_SETTINGS_MODULE": "pg_settings",
                "PYTHONPATH": str(tmp_path),
                "TRELLIS_BLOBS_ROOT": str(tmp_path / "blobs"),
            }
        )
        done = subprocess.run(
            [sys.executable, "script.py"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    return run


@pytest.fixture
def trellis_register() -> Iterator[Callable[..., PluginRecord]]:
    """Register plugins for one test: ``trellis_register(module, name=None, host=None)``.

    Without ``host`` the plugin joins the process-wide host (what Django views use). Every
    plugin registered this way is unregistered when the test ends.
    """
    registered: list[tuple[Host, str]] = []

    def register(plugin: Any, name: str | None = None, host: Host | None = None) -> PluginRecord:
        target = host if host is not None else get_host()
        record = target.register(plugin, name)
        registered.append((target, record.name))
        return record

    yield register
    for host, name in reversed(registered):
        host.unregister(name)
