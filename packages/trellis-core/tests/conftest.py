from __future__ import annotations

import textwrap
import types
from collections.abc import Callable

import pytest


@pytest.fixture
def make_module() -> Callable[..., types.ModuleType]:
    """Build a module from source, as if imported, so plugins can be declared inline."""
    counter = 0

    def make(source: str, name: str | None = None, **namespace: object) -> types.ModuleType:
        nonlocal counter
        counter += 1
        module = types.ModuleType(name or f"trellis_test_module_{counter}")
        module.__dict__.update(namespace)
        exec(textwrap.dedent(source), module.__dict__)
        return module

    return make


KV_SPEC = """
from __future__ import annotations
from trellis.core import Contract, hookspec

CONTRACT = Contract("kv", "1.2.0", default_provider=DEFAULT)

@hookspec(firstresult=True)
def kv_get(key: str) -> str | None:
    '''Read a value. Provider hook.'''

@hookspec
def kv_observers() -> list[str]:
    '''Names of observers. Extension hook.'''
"""

KV_PROVIDER = """
from trellis.core import hookimpl

TRELLIS_IMPLEMENTS = {"kv": ">=1.0,<2"}
TRELLIS_PROVIDES = {"kv": PROVIDER}
TRELLIS_HOOKSPECS = [SPEC]

@hookimpl
def kv_get(key):
    return f"{PROVIDER}:{key}"
"""


@pytest.fixture
def kv(make_module: Callable[..., types.ModuleType]) -> Callable[..., types.ModuleType]:
    """A test contract ``kv`` 1.2.0 and a factory of its providers: ``kv("memory")``."""
    spec = make_module(KV_SPEC, "trellis_test_kv_hookspecs", DEFAULT=None)

    def provider(name: str) -> types.ModuleType:
        return make_module(KV_PROVIDER, f"kv_{name}", PROVIDER=name, SPEC=spec)

    provider.spec = spec  # type: ignore[attr-defined]
    return provider


@pytest.fixture(scope="session")
def django_client():
    """A Django test client for a minimal project composed from the installed plugins.

    Django is configured once per process (in-memory SQLite), the way any project using
    ``compose()`` would be.
    """
    pytest.importorskip("django", reason="install trellis-core[django] to run the Django tests")
    import django
    from django.conf import settings

    if not settings.configured:
        from trellis.core.django import compose

        namespace: dict[str, object] = {
            "DEBUG": False,
            "SECRET_KEY": "trellis-core-tests",
            "ALLOWED_HOSTS": ["testserver"],
            "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth"],
            "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            "ROOT_URLCONF": "trellis.core.testing._urls",
            "TEMPLATES": [
                {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
            ],
            "USE_TZ": True,
        }
        compose(namespace)
        settings.configure(**namespace)
        django.setup()
    from django.test import Client

    return Client()
