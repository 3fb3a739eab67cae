"""Validation of what :func:`trellis.events.publish` accepts: keys and JSON payloads."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ._errors import EventKeyError, EventPayloadError

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+=-]*", re.ASCII)
MAX_KEY_LENGTH = 200
MAX_DEPTH = 64
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def validate_key(key: object) -> str:
    """Return ``key`` if it is a valid ordering key, else raise :class:`EventKeyError`.

    A key is 1 to 200 ASCII characters: a letter or digit, then letters, digits and
    ``. _ : / @ + = -``; it usually names the entity the event is about (``form-42``).
    """
    if not isinstance(key, str):
        raise EventKeyError(
            f"event key must be a string such as 'order-42', got {type(key).__name__} {key!r}"
        )
    if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.fullmatch(key):
        shown = key if len(key) <= 60 else key[:60] + "..."
        raise EventKeyError(
            f"event key {shown!r} is invalid: use 1 to {MAX_KEY_LENGTH} ASCII letters, digits "
            "and '._:/@+=-', starting with a letter or digit (for example 'order-42')"
        )
    return key


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.fullmatch(key) else f"{path}[{key!r}]"


def _check(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise EventPayloadError(path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        _check_text(value, path, "string")
        return
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EventPayloadError(path, f"{value!r} is not valid JSON; send null or a string")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EventPayloadError(
                    path,
                    f"object key {key!r} is a {type(key).__name__}; JSON object keys must be "
                    "strings",
                )
            _check_text(key, path, "object key")
            _check(item, _child(path, key), depth + 1)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    raise EventPayloadError(
        path,
        f"{type(value).__name__} {value!r:.80} is not JSON; convert it first (for example a "
        "datetime to an ISO string, a Decimal to a string, a set to a sorted list)",
    )


def _check_text(text: str, path: str, what: str) -> None:
    """A lone surrogate (``"\\ud800"``, from a bad decode) is not text any database stores."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EventPayloadError(
            path,
            f"{what} has a lone surrogate {text[exc.start]!r} at index {exc.start}, which is "
            "not UTF-8; decode the source bytes properly (or with errors='replace')",
        ) from None


def encode_payload(payload: object) -> str:
    """``payload`` as JSON text, or :class:`EventPayloadError` naming the offending value's path
    (``$.items[2].price``). Only plain JSON types pass: no silent ``str()`` of other objects."""
    _check(payload, "$", 0)
    return json.dumps(payload, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
