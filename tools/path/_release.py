"""A real release, made in a throwaway clone of this checkout's HEAD.

Stages 2 to 4 consume what a release produces: tags ``<dist>-v<version>`` (stage 2 checks
one out as a submodule, or installs from it as a git URL) and wheels on the release's local
index (stages 3 and 4). The release is the real pipeline, ``python -m tools.release run``,
run in the clone: it commits the versions, builds, checks, uploads to its local pypiserver
(files kept in ``<clone>/.release/index``), verifies and tags. This checkout is never touched.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ._errors import PathError, StageNotRunnable
from ._proc import GIT_IDENTITY, Logger, clean_env, run, tail, tool


@dataclass(frozen=True)
class Release:
    """What the release in the clone produced.

    :param versions: distribution → version, for every tag on the release commit: the
        packages the release verified and tagged.
    :param failure: the release's error when it stopped before tagging everything (the
        packages it tagged can still be used; see :meth:`version`).
    """

    clone: Path
    commit: str
    versions: dict[str, str]
    seconds: float
    log: Path
    failure: str | None = None

    @property
    def index_dir(self) -> Path:
        """The local index's files: every wheel and sdist the release uploaded."""
        return self.clone / ".release" / "index"

    def tag(self, dist: str) -> str:
        """The release tag of ``dist`` (see :meth:`version` for the errors)."""
        return f"{dist}-v{self.version(dist)}"

    def version(self, dist: str) -> str:
        """The released (verified and tagged) version of ``dist``.

        :raises PathError: the release failed before tagging ``dist`` (with its error).
        :raises StageNotRunnable: the release had nothing to release for ``dist``.
        """
        name = canonicalize_name(dist)
        if name in self.versions:
            return self.versions[name]
        have = ", ".join(f"{d} {v}" for d, v in sorted(self.versions.items())) or "nothing"
        if self.failure:
            raise PathError(
                f"the release of commit {self.commit[:12]} failed before tagging {name} (it "
                f"tagged {have}); the release said:\n{self.failure}"
            )
        raise StageNotRunnable(
            f"the release of commit {self.commit[:12]} did not release {name} (it released "
            f"{have}): {name} must be committed, public (no `private = true`) and have a "
            "changelog fragment"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "tags": [f"{d}-v{v}" for d, v in sorted(self.versions.items())],
            "seconds": round(self.seconds, 1),
            "failure": self.failure,
        }


def git(*args: str | Path, cwd: Path | None = None, log: Logger | None = None) -> str:
    """Run git with the session's identity and no git settings of the caller's environment."""
    result = run(
        [tool("git"), *args],
        env=clean_env(GIT_IDENTITY),
        cwd=cwd,
        what=f"git {args[0]}",
        log=log,
        timeout=300,
    )
    return result.stdout.strip()


def head(root: Path) -> str:
    """The commit HEAD of the checkout at ``root`` points to."""
    return git("-C", root, "rev-parse", "HEAD")


def committed(root: Path, rel: str, commit: str = "HEAD") -> bool:
    """Whether ``rel`` (a file) exists in ``commit`` of the repository at ``root``."""
    result = run(
        [tool("git"), "-C", str(root), "cat-file", "-e", f"{commit}:{rel}"],
        env=clean_env(),
        what="git cat-file",
        check=False,
    )
    return result.returncode == 0


def release_in_clone(root: Path, work: Path, commit: str, *, log: Logger) -> Release:
    """Clone ``root`` into ``work/clone`` and release ``commit`` there with the real pipeline.

    :param commit: the commit to release (HEAD of ``root`` when the run started).
    :raises PathError: the clone failed, or the release tagged nothing (with its output).
    """
    clone = work / "clone"
    started = time.monotonic()
    git("clone", "--quiet", root, clone, log=log)
    # A branch of its own at HEAD: the pipeline releases from a branch, never a detached HEAD.
    git("-C", clone, "checkout", "--quiet", "-B", "trellis-path", commit, log=log)
    output = work / "release.log"
    result = run(
        [sys.executable, "-m", "tools.release", "run"],
        env=clean_env(GIT_IDENTITY),
        cwd=clone,
        what="the release in the throwaway clone",
        check=False,
        timeout=1800,
        log=log,
    )
    output.write_text(result.stdout + result.stderr, encoding="utf-8")
    seconds = time.monotonic() - started
    failure = None
    if result.returncode != 0:
        failure = (
            f"the release of {commit[:12]} in the throwaway clone failed (exit status "
            f"{result.returncode}; its output is in {output}, kept with --keep):\n"
            f"{tail(result.stderr or result.stdout, 2000)}"
        )
        log(f"warning: {failure}")
    # After a failure, what it verified and tagged before stopping can still be used.
    tags = git("-C", clone, "tag", "--points-at", "HEAD").split() if _released(clone) else []
    versions = parse_tags(tags)
    if not versions:
        raise PathError(
            failure
            or f"the release in {clone} tagged nothing on its release commit; its output:\n"
            f"{tail(result.stdout)}"
        )
    for line in result.stdout.strip().splitlines()[-6:]:
        log(f"  release: {line}")
    return Release(clone, commit, versions, seconds, output, failure)


def _released(clone: Path) -> bool:
    """Whether HEAD of ``clone`` is a release commit (one the pipeline made)."""
    return "Release-Package:" in git("-C", clone, "log", "-1", "--format=%B")


def parse_tags(tags: list[str]) -> dict[str, str]:
    """``{"trellis-blobs": "0.2.0"}`` from release tags like ``trellis-blobs-v0.2.0``.

    Tags that are not ``<dist>-v<version>`` are ignored.
    """
    versions: dict[str, str] = {}
    for tag in tags:
        dist, sep, version = tag.rpartition("-v")
        if not sep or not dist:
            continue
        try:
            Version(version)
        except InvalidVersion:
            continue
        versions[canonicalize_name(dist)] = version
    return versions
