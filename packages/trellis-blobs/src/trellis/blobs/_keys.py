"""Blob key validation shared by the facade and every provider."""

from __future__ import annotations

import re
import uuid

from ._errors import InvalidKey

MAX_KEY_LENGTH = 255
_ALLOWED = re.compile(r"[A-Za-z0-9._/-]+")


def new_key() -> str:
    """A fresh random key (32 hex characters)."""
    return uuid.uuid4().hex


def validate_key(key: object) -> str:
    """Return ``key`` if it is a safe blob key, else raise :class:`InvalidKey` saying why.

    Safe: 1 to 255 characters from ``A-Z a-z 0-9 . _ / -``, not starting with ``/``, and no
    empty, ``.`` or ``..`` path segment — so no key can address anything outside a store.
    """
    if not isinstance(key, str):
        raise InvalidKey(f"blob key must be a string; got {type(key).__name__} {key!r}")
    if not key:
        raise InvalidKey("blob key must not be empty")
    if "\x00" in key:
        raise InvalidKey(f"blob key {key!r} contains a NUL byte")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"blob key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}")
    if key.startswith("/"):
        raise InvalidKey(f"blob key {key!r} is absolute; keys are relative (drop the '/')")
    if not _ALLOWED.fullmatch(key):
        bad = sorted({c for c in key if not _ALLOWED.fullmatch(c)})
        raise InvalidKey(
            f"blob key {key!r} contains {''.join(bad)!r}; use letters, digits and . _ / -"
        )
    for segment in key.split("/"):
        if segment in {"", ".", ".."}:
            raise InvalidKey(
                f"blob key {key!r} has an empty, '.' or '..' segment; it could escape the store"
            )
    return key
