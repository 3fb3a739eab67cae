"""The README's example runs as written (its plugin half registered on a host)."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from trellis.core import _global as core_global
from trellis.core import set_host
from trellis.core.testing import isolated_host
from trellis.events import inline, plugin

README = Path(__file__).resolve().parents[1] / "README.md"
SPLIT = "# ... in application code, once the plugin above is loaded:"


@pytest.mark.django_db(transaction=True)
def test_readme_example() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    example = next(b for b in blocks if SPLIT in b)
    definitions, usage = example.split(SPLIT)
    module = types.ModuleType("readme_welcome")
    exec(compile(definitions, str(README), "exec"), module.__dict__)
    host = isolated_host(plugin, inline, module)
    assert host.plugins()[-1].status == "active", host.plugins()[-1].reason
    previous = core_global._host
    set_host(host)
    try:
        exec(compile(usage, str(README), "exec"), dict(module.__dict__))
    finally:
        set_host(previous)
    assert module.WELCOMED == ["ada@example.org"]
