"""The README's example runs as written (its plugin half registered on a host)."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from trellis.core import _global as core_global
from trellis.core import set_host
from trellis.core.testing import isolated_host
from trellis.events import inline
from trellis.events import plugin as events_plugin
from trellis.reports import plugin as reports_plugin

README = Path(__file__).resolve().parents[1] / "README.md"
SPLIT = "# ... in application code, once the plugin above is loaded:"


@pytest.mark.django_db(transaction=True)
def test_readme_example() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    example = next(b for b in blocks if SPLIT in b)
    definitions, usage = example.split(SPLIT)
    module = types.ModuleType("readme_clinic")
    exec(compile(definitions, str(README), "exec"), module.__dict__)
    host = isolated_host()
    host.register(events_plugin, "events")
    host.register(inline, "events-inline")
    host.register(reports_plugin, "reports")
    host.register(module, "clinic")
    assert all(p.status == "active" for p in host.plugins()), host.plugins()
    previous = core_global._host
    set_host(host)
    try:
        exec(compile(usage, str(README), "exec"), dict(module.__dict__))
        # Published after the rebuild, the next visit is counted by the processor alone.
        module.record_visit("demo", "v3", "south", 30)
        from trellis.reports import report_query

        rows = report_query(domain="demo", slug="minutes").rows
        assert [(r["clinic"], r["visits"]) for r in rows] == [("north", 2), ("south", 1)]
    finally:
        set_host(previous)
    assert len(module.VISITS) == 3
