"""shared-docs/hooks.md and the tests stay in step with the hooks the code defines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from trellis.core.testing import isolated_host

ROOT = Path(__file__).resolve().parents[1]
HOOKS_MD = ROOT / "shared-docs" / "hooks.md"
HEADING = re.compile(r"^### `(?P<name>[a-z0-9_]+)\((?P<rest>.*)`\s*$", re.MULTILINE)


def _hooks() -> dict[str, str]:
    host = isolated_host(discover=True)
    return {hook.name: hook.signature for hook in host.hooks()}


def _documented() -> dict[str, str]:
    text = HOOKS_MD.read_text(encoding="utf-8")
    return {m["name"]: f"{m['name']}({m['rest']}" for m in HEADING.finditer(text)}


def _test_functions() -> set[str]:
    names = set()
    for folder in ("packages", "services"):
        for path in (ROOT / folder).glob("*/tests/**/*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_hook_"):
                    names.add(node.name)
    return names


HOOKS = _hooks()


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_every_hook_is_documented_with_its_exact_signature(hook):
    documented = _documented()
    assert hook in documented, f"add a '### `{HOOKS[hook]}`' section to shared-docs/hooks.md"
    assert documented[hook] == HOOKS[hook], (
        f"shared-docs/hooks.md documents {documented[hook]!r}, the code defines {HOOKS[hook]!r}"
    )


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_every_hook_has_a_test(hook):
    assert f"test_hook_{hook}" in _test_functions(), (
        f"add a test named test_hook_{hook} in the defining package's tests/"
    )


def test_no_documented_hook_is_stale():
    stale = set(_documented()) - set(HOOKS)
    assert not stale, f"shared-docs/hooks.md documents hooks no contract defines: {sorted(stale)}"
