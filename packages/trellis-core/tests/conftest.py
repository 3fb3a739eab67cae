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
