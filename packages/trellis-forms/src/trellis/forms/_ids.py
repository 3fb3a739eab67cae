"""Identifiers: domains, form names, case types, submission and case ids, attachment names.

Every one is checked with ``re.fullmatch`` (``re.match`` with ``$`` would let a trailing
newline through); ASCII only, but for attachment names: field clients name files as their
users did (Enketo keeps the picked file's name, spaces and accents included).
"""

from __future__ import annotations

import re

from ._errors import InvalidIdentifier

DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
"""Domain (project space) names: like a DNS label, 1 to 63 characters."""

NAME = re.compile(r"[a-z][a-z0-9_]{0,62}", re.ASCII)
"""Form names and case types."""

RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", re.ASCII)
"""Client submission ids and case ids (uuids, ``uuid:...``)."""

_NOT_IN_NAMES = r"\x00-\x1f\x7f:/\\\ud800-\udfff"
ATTACHMENT = re.compile(rf"[^{_NOT_IN_NAMES} .](?:[^{_NOT_IN_NAMES}]{{0,98}}[^{_NOT_IN_NAMES} ])?")
"""Attachment names: 1 to 100 printable characters without a path or drive character (``/``,
``\\``, ``:``), not starting with ``.`` or a space, not ending with a space (and printable:
:func:`is_valid` also checks ``str.isprintable``)."""

PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}", re.ASCII)
"""Case property names."""

_RULES = {
    "domain": (DOMAIN, "1 to 63 of a-z, 0-9 and '-', not starting or ending with '-'"),
    "form": (NAME, "a lower-case letter, then up to 62 of a-z, 0-9 and '_'"),
    "case_type": (NAME, "a lower-case letter, then up to 62 of a-z, 0-9 and '_'"),
    "submission_id": (RECORD_ID, "a letter or digit, then up to 99 of A-Z, a-z, 0-9 and '._:-'"),
    "case_id": (RECORD_ID, "a letter or digit, then up to 99 of A-Z, a-z, 0-9 and '._:-'"),
    "attachment": (
        ATTACHMENT,
        "1 to 100 printable characters without '/', '\\' or ':', not starting with '.' or a "
        "space, not ending with a space",
    ),
    "property": (PROPERTY, "a letter or '_', then up to 62 of A-Z, a-z, 0-9 and '_'"),
}


def is_valid(kind: str, value: object) -> bool:
    """Whether ``value`` is a valid identifier of ``kind`` (``domain``, ``form``, ...)."""
    pattern, _ = _RULES[kind]
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        return False
    return kind != "attachment" or value.isprintable()


def check(kind: str, value: object) -> str:
    """``value`` if it is a valid identifier of ``kind``, else :class:`InvalidIdentifier`."""
    if is_valid(kind, value):
        return str(value)
    _, rule = _RULES[kind]
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise InvalidIdentifier(f"{kind} {shown} is invalid: use {rule}", field=kind)
