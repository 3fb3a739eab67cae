"""The path, shown and tested: the logic behind ``nox -s path``.

One unchanged consumer (``examples/consumer``, a plain Django project) runs its pytest suite
(the blobs contract suite plus its own facade tests) and a timing script against trellis-blobs
consumed four ways, each in a fresh uv venv: (1) editable from this checkout, (2) a git
submodule at a release tag and a ``git+file://...@tag#subdirectory=`` URL, (3) the wheel a
real release uploaded to its local index, (4) the ``remote`` provider against
``services/blobs`` running under gunicorn. The release is made with ``tools.release`` in a
throwaway clone of HEAD. Every copy of the consumer is hashed and compared with the original.
``python -m tools.path --help`` lists the options; see ``shared-docs/the-path.md``.
"""

from __future__ import annotations

from ._cli import main, parse_stages
from ._consumer import combined, copy_consumer, differences, digest_tree
from ._errors import PathError, StageNotRunnable
from ._release import Release, parse_tags, release_in_clone
from ._report import COLUMNS, Row, as_json, table
from ._run import STAGES, Options, Outcome, report, run_path
from ._stages import git_url, parse_timing, suite_counts

__all__ = [
    "COLUMNS",
    "STAGES",
    "Options",
    "Outcome",
    "PathError",
    "Release",
    "Row",
    "StageNotRunnable",
    "as_json",
    "combined",
    "copy_consumer",
    "differences",
    "digest_tree",
    "git_url",
    "main",
    "parse_stages",
    "parse_tags",
    "parse_timing",
    "release_in_clone",
    "report",
    "run_path",
    "suite_counts",
    "table",
]
