"""The README's Python examples run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [b for b in blocks if "INSTALLED_APPS" not in b]  # the settings sketch is not run


@pytest.mark.django_db
def test_readme_examples(blob_root: Path) -> None:
    found = examples()
    assert len(found) == 2
    namespace: dict[str, object] = {}
    for block in found:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["result"].created  # type: ignore[attr-defined]
    assert [p.name for p in blob_root.rglob("*") if p.is_file()]  # the photo was stored
