"""The workflows call sessions that exist, pin every action, and publish the trusted way.

actionlint and zizmor check the YAML itself (`nox -s workflows`); these tests check what those
tools cannot know about this repository.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

from release_testkit import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CI = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
RELEASE = (WORKFLOWS / "release.yml").read_text(encoding="utf-8")


def _nox_sessions() -> set[str]:
    """Session names declared in noxfile.py (``name=`` or the function name)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if isinstance(target, ast.Attribute) and target.attr == "session":
                named = [k.value for k in (call.keywords if call else []) if k.arg == "name"]
                value = named[0].value if named and isinstance(named[0], ast.Constant) else None
                names.add(value if isinstance(value, str) else node.name)
    return names


def test_every_action_is_pinned_to_a_commit_with_its_version_noted() -> None:
    for text in (CI, RELEASE):
        for uses in re.findall(r"uses:\s*(\S+.*)", text):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*", uses), uses


def test_ci_matrix_comes_from_nox_list_json_with_postgres_and_redis() -> None:
    assert "python -m nox -l --json" in CI
    assert "session: ${{ fromJSON(needs.sessions.outputs.sessions) }}" in CI
    assert re.search(r"^      postgres:\n        image: postgres:", CI, re.MULTILINE)
    assert re.search(r"^      redis:\n        image: redis:", CI, re.MULTILINE)
    snippet = re.search(r"\| python -c '(.+)'\)", CI)
    assert snippet, "the step turning `nox -l --json` into a JSON list of session names"
    listing = [{"session": "tests", "name": "tests"}, {"session": "lint", "name": "lint"}]
    result = subprocess.run(
        [sys.executable, "-c", snippet.group(1)],
        input=json.dumps(listing),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == ["tests", "lint"]


def test_release_publishes_with_trusted_publishing_and_attestations() -> None:
    assert "\npermissions: {}\n" in RELEASE, "no job gets more than it asks for"
    publish = _job("publish")
    assert "id-token: write" in publish
    assert "pypa/gh-action-pypi-publish@" in publish
    assert "attestations: true" in publish
    assert "password" not in publish.lower() and "secrets." not in RELEASE, "no stored token"
    assert "environment:\n      name: pypi" in publish


def test_workflows_run_sessions_that_exist() -> None:
    sessions = _nox_sessions()
    used = set(re.findall(r"python -m nox -s ([\w-]+)", CI + RELEASE))
    assert used == {"release-tags", "release-build", "release-verify"}
    assert used <= sessions, used - sessions
    assert {"release", "owners", "codeowners", "workflows"} <= sessions


def _job(name: str) -> str:
    """The text of job ``name`` in release.yml (up to the next job)."""
    start = RELEASE.index(f"\n  {name}:\n")
    following = re.search(r"\n  [\w-]+:\n", RELEASE[start + 1 :])
    return RELEASE[start : start + 1 + following.start()] if following else RELEASE[start:]


def test_release_verifies_the_rebuilt_files_on_a_loopback_index_before_publishing() -> None:
    build, verify, publish = _job("build"), _job("verify"), _job("publish")
    assert "python -m nox -s release-build" in build
    assert "fetch-depth: 0" in build, "the tag annotations and origin/main are needed"
    assert "--branch origin/main" in build
    assert "needs: [plan, build]" in verify
    assert re.search(r"python -m nox -s release-verify --[^\n]*\n\s+--local", verify), verify
    assert "needs: [plan, build, verify]" in publish, "nothing is published unverified"
    assert "id-token: write" not in build + verify
    check = _job("check")
    assert "needs: [plan, publish]" in check and "--index-url https://pypi.org/simple/" in check


def test_the_build_backend_pin_is_documented() -> None:
    docs = (ROOT / "shared-docs" / "releasing.md").read_text(encoding="utf-8")
    assert "tools/release/build-constraints.txt" in docs


def test_release_does_not_depend_on_tag_push_events() -> None:
    """GitHub sends no tag events when more than three tags are pushed at once."""
    trigger = RELEASE[RELEASE.index("\non:\n") : RELEASE.index("\npermissions:")]
    assert not re.search(r"^    (tags|branches-ignore|paths):", trigger, re.MULTILINE), trigger
    assert re.search(r"^  push:\n    branches: \[main\]$", trigger, re.MULTILINE), trigger
    assert "workflow_dispatch:" in trigger and "      tags:" in trigger
    plan = _job("plan")
    assert "python -m nox -s release-tags" in plan
    assert "${{ github.event.before }}" in plan and "${{ github.event.inputs.tags }}" in plan
    for job in ("build", "verify", "publish", "check"):
        assert "needs.plan.outputs.tags != ''" in _job(job), job
