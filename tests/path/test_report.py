"""tools/path/_report.py and the parsers: the table, the JSON, pytest's and the timing's output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tools.path import (
    COLUMNS,
    Outcome,
    PathError,
    Row,
    as_json,
    git_url,
    parse_tags,
    parse_timing,
    suite_counts,
    table,
)


def rows() -> list[Row]:
    return [
        Row(
            "1 monolith",
            "editable",
            status="passed",
            passed=18,
            failed=0,
            skipped=0,
            install_seconds=1.234,
            put_p50_ms=1.5,
            get_p50_ms=0.25,
        ),
        Row("3 library", "wheel", status="failed", passed=16, failed=2, skipped=1, note="boom"),
        Row("4 service", "remote", status="not run", note="services/blobs is not in commit x"),
    ]


def test_the_table_has_the_columns_and_one_line_per_row():
    lines = table(rows()).splitlines()
    assert [cell.strip() for cell in lines[0].strip("|").split("|")] == list(COLUMNS)
    assert set(lines[1]) == {"|", "-"}
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert cells[0] == ["1 monolith", "editable", "18 passed / 0 failed", "1.2", "1.500", "0.250"]
    assert cells[1][2] == "FAILED: 16 passed / 2 failed / 1 skipped"
    assert cells[2][2:] == ["not run", "-", "-", "-"]
    assert len({len(line) for line in lines}) == 1, "columns are aligned"


def test_the_json_has_the_tables_fields_per_stage():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    consumer = {"files": 8, "sha256": "ab", "identical": True, "differences": []}
    data = as_json(rows(), consumer=consumer, release=None, commit="c0ffee", when=when)
    data = json.loads(json.dumps(data))  # serialisable as it is
    assert data["date"] == "2026-01-02T03:04:05+00:00"
    assert data["machine"]["cpus"] >= 1
    assert data["columns"] == list(COLUMNS)
    first = data["stages"][0]
    assert first["stage"] == "1 monolith"
    assert first["install_seconds"] == 1.23
    assert (first["passed"], first["failed"], first["put_p50_ms"]) == (18, 0, 1.5)
    assert first["suite"] == "18 passed / 0 failed"
    assert data["stages"][2]["status"] == "not run"
    assert data["stages"][2]["install_seconds"] is None


def test_a_stage_not_run_or_a_consumer_difference_fails_the_run():
    passed = rows()[:1]
    assert Outcome(passed, [], {}).ok
    assert not Outcome(passed, ["stage 2a: manage.py is missing"], {}).ok
    assert not Outcome(rows(), [], {}).ok


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="2" skipped="3"
 tests="24" time="1.0"></testsuite></testsuites>
"""


def test_suite_counts_come_from_the_junit_report(tmp_path: Path):
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    assert suite_counts(report) == (18, 3, 3)


def test_the_timing_line_is_the_last_line():
    out = 'migrating\n{"put_p50_ms": 1.25, "get_p50_ms": 0.5, "iterations": 200}\n'
    assert parse_timing(out) == {"put_p50_ms": 1.25, "get_p50_ms": 0.5}


@pytest.mark.parametrize("out", ["", "Traceback ...\nValueError: x", '{"put_p50_ms": 1}'])
def test_a_timing_without_its_json_is_an_error(out: str):
    with pytest.raises(PathError, match="put_p50_ms and get_p50_ms"):
        parse_timing(out)


def test_release_tags_give_versions():
    tags = ["trellis-core-v0.2.0", "trellis-blobs-v0.2.0", "Trellis_Remote-v1.0.0rc1", "v1", "x-vz"]
    assert parse_tags(tags) == {
        "trellis-core": "0.2.0",
        "trellis-blobs": "0.2.0",
        "trellis-remote": "1.0.0rc1",
    }


def test_the_git_url_names_the_tag_and_the_subdirectory():
    url = git_url(Path("/tmp/clone"), "trellis-blobs", "trellis-blobs-v0.2.0", "[testing]")
    assert url == (
        "trellis-blobs[testing] @ git+file:///tmp/clone@trellis-blobs-v0.2.0"
        "#subdirectory=packages/trellis-blobs"
    )
