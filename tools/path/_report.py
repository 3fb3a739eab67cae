"""The result of a run: one row per stage (two for stage 2), as a table and as JSON."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COLUMNS = (
    "stage",
    "how installed",
    "suite result (passed/failed counts)",
    "time to install (s)",
    "p50 put 1 KiB (ms)",
    "p50 get 1 KiB (ms)",
)


@dataclass
class Row:
    """What one stage (or one form of stage 2) showed.

    :param status: ``passed`` (suite and timing ran, nothing failed), ``failed``, or
        ``not run`` (its prerequisites are missing; :attr:`note` says which).
    :param install_seconds: wall-clock time of what the stage does to get trellis-blobs into
        the consumer's venv(s), venv creation excluded.
    :param installed: distribution → version of every ``trellis-*`` in the consumer's venv.
    :param imported_from: where ``trellis.blobs`` was imported from in that venv.
    :param commands: every command the stage ran, in order, as a shell would take them.
    :param details: other facts worth keeping (the service's start-up time, ...).
    """

    stage: str
    how: str
    status: str = "not run"
    passed: int | None = None
    failed: int | None = None
    skipped: int | None = None
    install_seconds: float | None = None
    put_p50_ms: float | None = None
    get_p50_ms: float | None = None
    installed: dict[str, str] = field(default_factory=dict)
    imported_from: str | None = None
    note: str = ""
    commands: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def suite_cell(self) -> str:
        if self.passed is None or self.failed is None:
            return self.status
        counts = f"{self.passed} passed / {self.failed} failed"
        if self.skipped:
            counts += f" / {self.skipped} skipped"
        return counts if self.ok else f"FAILED: {counts}"

    def cells(self) -> tuple[str, ...]:
        return (
            self.stage,
            self.how,
            self.suite_cell(),
            _number(self.install_seconds, 1),
            _number(self.put_p50_ms, 3),
            _number(self.get_p50_ms, 3),
        )


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table with aligned columns (readable in a terminal too)."""
    lines = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]

    def render(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([render(COLUMNS), rule, *(render(cells) for cells in lines[1:])])


def notes(rows: list[Row]) -> str:
    """One line per row that has a note (why a stage failed or was not run)."""
    return "\n".join(f"stage {row.stage}: {row.note}" for row in rows if row.note)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def as_json(
    rows: list[Row],
    *,
    consumer: dict[str, Any],
    release: dict[str, Any] | None,
    commit: str,
    when: datetime | None = None,
) -> dict[str, Any]:
    """The run as a JSON-ready dict: ``date``, ``machine``, ``commit``, ``consumer``,
    ``release`` and ``stages`` (one record per row, the table's columns as fields)."""
    return {
        "date": (when or datetime.now(UTC)).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": commit,
        "columns": list(COLUMNS),
        "consumer": consumer,
        "release": release,
        "stages": [_record(row) for row in rows],
    }


def _record(row: Row) -> dict[str, Any]:
    seconds = None if row.install_seconds is None else round(row.install_seconds, 2)
    return asdict(row) | {"install_seconds": seconds, "suite": row.suite_cell()}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` (creating its folder), indented, ending with a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
