"""Bumps, pins, and editing version sources and requirements in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from tools.release import ReleaseError, bump, pin, pinned_requirement
from tools.release._versions import (
    read_version,
    rewrite_requirements,
    version_source,
    write_version,
)


@pytest.mark.parametrize(
    ("version", "level", "expected"),
    [
        ("1.3.2", "patch", "1.3.3"),
        ("1.3.2", "minor", "1.4.0"),
        ("1.3.2", "major", "2.0.0"),
        ("0.4.1", "major", "1.0.0"),
        ("2", "minor", "2.1.0"),
        ("1.0.0rc1", "patch", "1.0.1"),
    ],
)
def test_bump(version: str, level: str, expected: str) -> None:
    assert bump(Version(version), level) == Version(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.3.0", ">=1.3,<2"), ("1.3.1", ">=1.3.1,<2"), ("0.2.0", ">=0.2,<1"), ("2", ">=2.0,<3")],
)
def test_pin(version: str, expected: str) -> None:
    assert pin(Version(version)) == expected


def test_pinned_requirement_keeps_extras_and_markers() -> None:
    assert (
        pinned_requirement('trellis-core[django]; python_version >= "3.11"', Version("1.3.0"))
        == 'trellis-core[django]>=1.3,<2; python_version >= "3.11"'
    )


def test_hatch_path_version_is_read_and_written_in_place(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    version_file = tmp_path / "src" / "_version.py"
    version_file.write_text('"""Version."""\n\n__version__ = "0.1.0"  # keep\n', encoding="utf-8")
    pyproject = {
        "project": {"name": "x", "dynamic": ["version"]},
        "tool": {"hatch": {"version": {"path": "src/_version.py"}}},
    }
    source = version_source(pyproject, tmp_path / "pyproject.toml")
    assert read_version(tmp_path, source) == Version("0.1.0")
    write_version(tmp_path, source, Version("0.2.0"))
    assert version_file.read_text(encoding="utf-8") == (
        '"""Version."""\n\n__version__ = "0.2.0"  # keep\n'
    )


def test_static_version_is_written_only_in_the_project_table(tmp_path: Path) -> None:
    text = '[project]\nname = "x"\nversion = "1.0.0"\n\n[tool.other]\nversion = "9.9.9"\n'
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    source = version_source({"project": {"name": "x", "version": "1.0.0"}}, tmp_path)
    write_version(tmp_path, source, Version("1.0.1"))
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == text.replace(
        '"1.0.0"', '"1.0.1"'
    )


def test_dynamic_version_without_a_hatch_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"\[tool.hatch.version\] has no 'path'"):
        version_source({"project": {"dynamic": ["version"]}}, tmp_path / "pyproject.toml")


def test_rewrite_requirements_pins_siblings_only(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\n"
        'name = "trellis-blobs"\n'
        "dependencies = [\n"
        '  "trellis-core[django]>=0.1,<1",  # the host\n'
        '  "boto3>=1.34",\n'
        "]\n"
        "[project.optional-dependencies]\n"
        'testing = ["trellis-core[testing]", \'trellis-tasks; python_version >= "3.11"\']\n',
        encoding="utf-8",
    )
    changes = rewrite_requirements(
        pyproject, {"trellis-core": Version("1.3.0"), "trellis-tasks": Version("0.2.1")}
    )
    assert changes == {
        "trellis-core[django]>=0.1,<1": "trellis-core[django]>=1.3,<2",
        "trellis-core[testing]": "trellis-core[testing]>=1.3,<2",
        'trellis-tasks; python_version >= "3.11"': (
            'trellis-tasks>=0.2.1,<1; python_version >= "3.11"'
        ),
    }
    text = pyproject.read_text(encoding="utf-8")
    assert '"trellis-core[django]>=1.3,<2",  # the host' in text
    assert '"boto3>=1.34"' in text
    assert "'trellis-tasks>=0.2.1,<1; python_version >= \"3.11\"'" in text


def test_rewrite_requirements_changes_only_the_project_table_byte_for_byte(tmp_path: Path) -> None:
    """The same string elsewhere (a dependency group, a tool's table) is not a requirement."""
    text = (
        "# the package\n"
        "[project]  # metadata\n"
        'name = "trellis-demo"\n'
        "dependencies = [\n"
        "    # the host\n"
        '    "trellis-core>=0.1,<1",\n'
        "    'boto3>=1.34'  ,  # spaced\n"
        "]\n"
        "\n"
        "[dependency-groups]\n"
        'dev = ["trellis-core>=0.1,<1"]  # a local checkout, not a pin\n'
        "\n"
        "[tool.example]\n"
        'requirements = ["trellis-core>=0.1,<1"]\n'
    )
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(text, encoding="utf-8")
    changes = rewrite_requirements(pyproject, {"trellis-core": Version("1.3.0")})
    assert changes == {"trellis-core>=0.1,<1": "trellis-core>=1.3,<2"}
    expected = text.replace('    "trellis-core>=0.1,<1",\n', '    "trellis-core>=1.3,<2",\n')
    assert pyproject.read_text(encoding="utf-8") == expected


def test_static_version_under_a_commented_project_header_is_read_and_written(
    tmp_path: Path,
) -> None:
    text = "[project]  # metadata\nname = \"x\"\nversion = '1.0.0'  # the version\n"
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    source = version_source({"project": {"name": "x", "version": "1.0.0"}}, tmp_path)
    assert read_version(tmp_path, source) == Version("1.0.0")
    write_version(tmp_path, source, Version("1.0.1"))
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == text.replace(
        "'1.0.0'", "'1.0.1'"
    )
