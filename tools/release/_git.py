"""The git operations of a release: what changed since a tag, the guards, commit and tag."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ._errors import ReleaseError
from ._proc import environ, run


def tag_name(dist: str, version: Version | str) -> str:
    """The tag of a released version: ``<dist>-v<version>``."""
    return f"{dist}-v{version}"


class Git:
    """A git work tree; every method runs git with ``-C root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._env = environ(
            drop_prefixes=("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"),
            overrides={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )

    def __call__(self, *args: str, check: bool = True, strip: bool = True) -> str:
        """Run ``git args`` and return its standard output (stripped unless ``strip=False``)."""
        result = run(
            ["git", "-C", str(self.root), *args],
            env=self._env,
            what=f"git {args[0]}",
            check=check,
            timeout=120,
        )
        if result.returncode != 0:
            return ""
        return result.stdout.strip() if strip else result.stdout.rstrip("\n")

    def ok(self, *args: str) -> bool:
        """Whether ``git args`` exits with status 0."""
        return run(["git", "-C", str(self.root), *args], env=self._env, check=False).returncode == 0

    # -- reading ------------------------------------------------------------------------------

    def head(self) -> str:
        """The commit checked out."""
        return self("rev-parse", "HEAD")

    def branch(self) -> str | None:
        """The branch checked out, or ``None`` on a detached HEAD."""
        name = self("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return name or None

    def dirty(self) -> list[str]:
        """``git status --porcelain`` lines: modified, staged and untracked files."""
        out = self("status", "--porcelain", "--untracked-files=all", strip=False)
        return [line for line in out.splitlines() if line.strip()]

    def behind(self) -> tuple[str, int] | None:
        """The upstream branch and how many of its commits HEAD lacks; ``None`` without one."""
        upstream = self("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}", check=False)
        if not upstream:
            return None
        count = self("rev-list", "--count", "HEAD..@{u}")
        return upstream, int(count or 0)

    def tags(self, prefix: str = "") -> dict[str, str]:
        """Tag → commit, for tags starting with ``prefix`` that are reachable from HEAD."""
        out = self(
            "for-each-ref",
            "--merged",
            "HEAD",
            "--format=%(refname:short) %(*objectname) %(objectname)",
            f"refs/tags/{prefix}*" if prefix else "refs/tags/",
        )
        tags: dict[str, str] = {}
        for line in out.splitlines():
            name, *shas = line.split()
            tags[name] = shas[0]  # peeled commit for annotated tags, else the commit itself
        return tags

    def tag_commit(self, name: str) -> str | None:
        """The commit tag ``name`` points to, or ``None`` if there is no such tag."""
        return (
            self("rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}", check=False)
            or None
        )

    def tag_annotation(self, name: str) -> str | None:
        """The message of annotated tag ``name``; ``None`` for a lightweight tag.

        :raises ReleaseError: there is no such tag.
        """
        ref = f"refs/tags/{name}"
        kind = self("cat-file", "-t", ref, check=False)
        if not kind:
            raise ReleaseError(
                f"there is no tag {name} here; fetch the tags (`git fetch --tags`, or "
                "actions/checkout with fetch-depth: 0)"
            )
        if kind != "tag":
            return None
        raw = self("cat-file", "tag", ref, strip=False)
        return raw.split("\n\n", 1)[1] if "\n\n" in raw else ""

    def message(self, commit: str) -> str:
        """The full message of ``commit``."""
        return self("log", "-1", "--format=%B", commit)

    def commit_of(self, ref: str) -> str | None:
        """The commit ``ref`` names, or ``None`` if it names none here."""
        return self("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False) or None

    def is_ancestor(self, commit: str, of: str) -> bool:
        """Whether ``commit`` is ``of`` or one of its ancestors."""
        return self.ok("merge-base", "--is-ancestor", commit, of)

    def branches_at(self, commit: str) -> list[str]:
        """The local branches whose tip is ``commit``."""
        out = self(
            "for-each-ref", "--points-at", commit, "--format=%(refname:short)", "refs/heads/"
        )
        return out.split()

    def last_release(self, dist: str) -> tuple[str, Version] | None:
        """The highest ``<dist>-v<version>`` tag reachable from HEAD, with its version."""
        found: list[tuple[Version, str]] = []
        for name in self.tags(f"{dist}-v"):
            try:
                found.append((Version(name.removeprefix(f"{dist}-v")), name))
            except InvalidVersion:
                continue  # e.g. trellis-core-vnext: not a release tag
        if not found:
            return None
        version, name = max(found)
        return name, version

    def changed_files(self, folder: str, since: str | None, untracked: Sequence[str]) -> list[str]:
        """Files under ``folder`` that differ from tag ``since`` (all tracked ones without it).

        Compares with the work tree, so uncommitted edits count; ``untracked`` (from
        :meth:`untracked`) adds new files not yet added to git.
        """
        prefix = folder.rstrip("/") + "/"
        if since is None:
            tracked = self("ls-files", "--", folder).splitlines()
        else:
            tracked = self("diff", "--name-only", "--no-renames", since, "--", folder).splitlines()
        extra = [path for path in untracked if path.startswith(prefix)]
        return sorted(set(tracked) | set(extra))

    def untracked(self) -> list[str]:
        """Untracked, not ignored files (paths relative to the root)."""
        return self("ls-files", "--others", "--exclude-standard").splitlines()

    def changed_since(self, base: str) -> list[str]:
        """Files changed between the merge base of ``base`` and HEAD, plus uncommitted ones."""
        merge_base = self("merge-base", base, "HEAD")
        committed = self("diff", "--name-only", merge_base).splitlines()
        return sorted(set(committed) | set(self.untracked()))

    # -- writing ------------------------------------------------------------------------------

    def commit(self, message: str, paths: Iterable[str]) -> str:
        """Stage everything under ``paths`` and commit it; return the new commit.

        :raises ReleaseError: git has no author identity or the commit failed.
        """
        self("add", "--all", "--", *paths)
        result = run(
            ["git", "-C", str(self.root), "commit", "--quiet", "--no-verify", "-m", message],
            env=self._env,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            hint = (
                "set an identity with `git config user.name ...` and `git config user.email ...`"
                if "identity" in output or "user.email" in output
                else "see git's message above"
            )
            raise ReleaseError(f"git commit of the release failed: {output[-1500:]}\n{hint}")
        return self.head()

    def tag(self, name: str, message: str) -> None:
        """Create annotated tag ``name`` on HEAD; an existing one must point at HEAD already.

        :raises ReleaseError: the tag exists and points at another commit.
        """
        existing = self.tag_commit(name)
        head = self.head()
        if existing == head:
            return
        if existing is not None:
            raise ReleaseError(
                f"tag {name} already exists on commit {existing[:12]}, not on the release commit "
                f"{head[:12]}: that version was released before; never move a release tag — "
                "release a new version instead"
            )
        self("tag", "--annotate", name, "--message", message)


def switch_command(git: Git, commit: str, new_branch: str) -> str:
    """The command that puts HEAD on ``commit`` *on a branch* (a detached HEAD is refused).

    ``git switch <branch>`` when a local branch's tip is ``commit``, else a command creating
    ``new_branch`` there.
    """
    branches = git.branches_at(commit)
    if branches:
        current = git.branch()
        return f"git switch {current if current in branches else branches[0]}"
    return f"git switch --create {new_branch} {commit}"


def resume_elsewhere(git: Git, release_id: str, release_commit: str) -> str:
    """Why a release in progress on ``release_commit`` cannot resume from HEAD, and what to do."""
    return (
        f"release {release_id} is in progress on commit {release_commit[:12]}, but HEAD is "
        f"{git.head()[:12]}: switch to it on a branch to resume it "
        f"(`{switch_command(git, release_commit, f'release-{release_id}')}`), or run with "
        "`--abandon` to give it up (files already uploaded stay on the index)"
    )


@contextmanager
def detached_tree(git: Git, revision: str) -> Iterator[Path]:
    """A temporary detached work tree of ``revision`` (``git worktree``), removed after."""
    holder = Path(tempfile.mkdtemp(prefix="trellis-tree-"))
    tree = holder / "tree"
    git(
        "-c",
        "core.hooksPath=/dev/null",
        "worktree",
        "add",
        "--detach",
        "--quiet",
        str(tree),
        revision,
    )
    try:
        yield tree
    finally:
        git("worktree", "remove", "--force", str(tree), check=False)
        shutil.rmtree(holder, ignore_errors=True)
        git("worktree", "prune", check=False)


def check_releasable(git: Git) -> None:
    """Refuse to release from a dirty tree, a detached HEAD or a branch behind its upstream.

    :raises ReleaseError: naming what is wrong and what to do.
    """
    dirty = git.dirty()
    if dirty:
        shown = "\n  ".join(dirty[:20]) + ("\n  ..." if len(dirty) > 20 else "")
        raise ReleaseError(
            f"the working tree has {len(dirty)} uncommitted change(s):\n  {shown}\n"
            "a release is built from a commit: commit or stash them (`git stash -u`) and re-run; "
            "`--dry-run` works on a dirty tree"
        )
    if git.branch() is None:
        raise ReleaseError(
            f"HEAD is detached at {git.head()[:12]}: a release commits and tags on a branch; "
            "check out the release branch (`git switch main`) and re-run"
        )
    behind = git.behind()
    if behind and behind[1] > 0:
        upstream, count = behind
        raise ReleaseError(
            f"branch {git.branch()} is {count} commit(s) behind {upstream}: releasing now would "
            f"tag a commit that lacks them; update first (`git pull --ff-only`) and re-run"
        )
