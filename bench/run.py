"""Run Trellis benchmarks: ``python bench/run.py [AREA ...]`` from the repository root.

Areas are the modules in ``bench/areas/`` (``core.py`` is area ``core``); each exposes
``run() -> list[Record]``. Results are printed and written to ``bench-results/<area>.json``.
An area module is imported only when it runs.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
_ROOT = _BENCH.parent

# Run as a script, Python puts bench/ itself first on sys.path; import through the package
# from the repository root instead, so ``bench._common`` is loaded once under one name.
if sys.path and Path(sys.path[0] or ".").resolve() == _BENCH:
    sys.path[0] = str(_ROOT)
elif str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench._common import AreaRunner, Record, main  # noqa: E402


def discover_areas() -> dict[str, AreaRunner]:
    """Area name → runner, for every public module in ``bench/areas/``."""
    runners: dict[str, AreaRunner] = {}
    for path in sorted((_BENCH / "areas").glob("*.py")):
        if path.stem.startswith("_"):
            continue
        runners[path.stem] = _lazy(path.stem)
    return runners


def _lazy(area: str) -> AreaRunner:
    def run() -> list[Record]:
        module = importlib.import_module(f"bench.areas.{area}")
        records: list[Record] = module.run()
        return records

    return run


if __name__ == "__main__":
    sys.exit(main(discover_areas()))
