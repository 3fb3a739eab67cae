"""Examples in the docs are executed, so they cannot go stale.

The convention for doc writers: **write an example as a ``>>>`` session to have it executed.**
Every fenced block marked ``pycon`` (or a ``python`` block containing ``>>>`` lines) in
``README.md``, ``packages/*/README.md``, ``services/*/README.md`` and ``shared-docs/**/*.md``
runs here with :mod:`doctest`, inside the composed test project (every installed plugin, an
SQLite database, a fresh blob root), one test per block. Plain ``python`` blocks (settings
fragments, plugin modules) and ``console`` blocks are illustrations and are not run.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(?P<lang>[a-z]*)[^\n]*\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _documents() -> list[Path]:
    found = [ROOT / "README.md"]
    for pattern in ("packages/*/README.md", "services/*/README.md", "shared-docs/**/*.md"):
        found += sorted(ROOT.glob(pattern))
    return found


def _blocks() -> list[tuple[str, int, str]]:
    """``(file, line of the first code line, code)`` for every executed block."""
    blocks = []
    for path in _documents():
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            body = match["body"]
            if match["lang"] == "pycon" or (match["lang"] == "python" and ">>> " in body):
                line = text.count("\n", 0, match.start("body")) + 1
                blocks.append((path.relative_to(ROOT).as_posix(), line, body))
    return blocks


BLOCKS = _blocks()


def test_the_docs_have_executed_examples():
    files = {file for file, _, _ in BLOCKS}
    assert {"packages/trellis-core/README.md", "packages/trellis-blobs/README.md"} <= files


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("file", "line", "code"), BLOCKS, ids=[f"{f}:{n}" for f, n, _ in BLOCKS])
def test_example(file, line, code, tmp_path, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(tmp_path / "blobs"))
    monkeypatch.chdir(tmp_path)
    cache.clear()
    parser = doctest.DocTestParser()
    # lineno is 0-based in doctest; examples then report their real line in the Markdown file
    test = parser.get_doctest(code, {"__name__": "doc_example"}, file, str(ROOT / file), line - 1)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=report.append, clear_globs=True)
    assert runner.failures == 0, "".join(report)
    assert runner.tries > 0, f"{file}:{line} has no >>> example"
