"""Trellis release tooling: the logic behind ``nox -s release`` and its sibling sessions.

``python -m tools.release run --dry-run`` prints the plan; ``run`` releases: it writes new
versions, sibling pins and changelogs (one commit), builds each package with ``uv build``
(build tools pinned by hash), checks it with ``twine check --strict``, checks that every
in-repo requirement can be met, uploads it idempotently (by default to a local pypiserver),
installs it from that index into a fresh venv with a proof that no Trellis package came from
anywhere else, smoke-tests it and tags it — recording each step in a journal so a re-run
resumes. ``.github/workflows/release.yml`` then rebuilds each tag exactly as verified,
verifies it again from a loopback index and publishes it. See ``shared-docs/releasing.md``.
"""

from __future__ import annotations

from ._errors import ReleaseError
from ._git import Git, check_releasable, tag_name
from ._index import Index, compare_with_index, local_index, project_files, tied_to_this_process
from ._journal import STATES, Journal, PackageRecord
from ._owners import codeowners_problem, render_codeowners, review_for
from ._pipeline import Options, abandon, release
from ._plan import Entry, Plan, make_plan
from ._tagged import build_tag, build_tags, release_tags, verify_built, verify_tag
from ._versions import bump, pin, pinned_requirement
from ._workspace import Project, Workspace, load_workspace

__all__ = [
    "STATES",
    "Entry",
    "Git",
    "Index",
    "Journal",
    "Options",
    "PackageRecord",
    "Plan",
    "Project",
    "ReleaseError",
    "Workspace",
    "abandon",
    "build_tag",
    "build_tags",
    "bump",
    "check_releasable",
    "codeowners_problem",
    "compare_with_index",
    "load_workspace",
    "local_index",
    "make_plan",
    "pin",
    "pinned_requirement",
    "project_files",
    "release",
    "release_tags",
    "render_codeowners",
    "review_for",
    "tag_name",
    "tied_to_this_process",
    "verify_built",
    "verify_tag",
]
