"""Validation of task, queue and schedule names (``re.fullmatch``, ASCII only)."""

from __future__ import annotations

import re

from ._errors import InvalidTaskName

TASK_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+", re.ASCII)
"""Dotted lower-case identifiers, at least two parts: ``blobs.reap``."""
QUEUE_NAME = re.compile(r"[a-z][a-z0-9_-]*", re.ASCII)
MAX_LENGTH = 200


def validate_task_name(name: object) -> str:
    """Return ``name`` if it is a valid task name.

    :raises InvalidTaskName: naming the value seen and the expected form.
    """
    if not isinstance(name, str) or len(name) > MAX_LENGTH or not TASK_NAME.fullmatch(name):
        raise InvalidTaskName(
            f"task name {name!r} is invalid: use dotted lower-case identifiers of at least two "
            f"parts, the first being the subsystem (e.g. 'blobs.reap'), at most {MAX_LENGTH} "
            "characters"
        )
    return name


def validate_queue_name(name: object) -> str:
    """Return ``name`` if it is a valid queue name (``[a-z][a-z0-9_-]*``, at most 64).

    :raises InvalidTaskName: naming the value seen.
    """
    if not isinstance(name, str) or len(name) > 64 or not QUEUE_NAME.fullmatch(name):
        raise InvalidTaskName(
            f"queue name {name!r} is invalid: use lower-case letters, digits, '_' or '-', "
            "starting with a letter, at most 64 characters (e.g. 'blobs')"
        )
    return name
