"""JSON pointers (RFC 6901): parse, format, resolve in data and in a JSON Schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MISSING: Any = object()
"""What :func:`resolve` returns when the pointer names nothing in the document."""


def parse(pointer: str) -> list[str]:
    """The reference parts of ``pointer`` (``"/a~1b/0"`` → ``["a/b", "0"]``).

    :raises ValueError: the pointer is not ``""`` and does not start with ``/``, or has a
        ``~`` not followed by ``0`` or ``1``.
    """
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must start with '/' (such as '/household_id')")
    parts = pointer[1:].split("/")
    for part in parts:
        if "~" in part.replace("~0", "").replace("~1", ""):
            raise ValueError(f"JSON pointer {pointer!r} has a '~' not followed by 0 or 1")
    return [t.replace("~1", "/").replace("~0", "~") for t in parts]


def format_path(parts: Iterable[object]) -> str:
    """A pointer from path parts (keys and indexes): ``["a/b", 0]`` → ``"/a~1b/0"``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(document: Any, pointer: str) -> Any:
    """The value ``pointer`` names in ``document``, or :data:`MISSING`."""
    node = document
    for part in parse(pointer):
        if isinstance(node, Mapping):
            if part not in node:
                return MISSING
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or (part != "0" and part.startswith("0")):
                return MISSING
            index = int(part)
            if index >= len(node):
                return MISSING
            node = node[index]
        else:
            return MISSING
    return node


def _follow_ref(root: Any, node: Any) -> Any:
    for _ in range(32):  # a cycle of $refs ends here
        if not isinstance(node, Mapping) or not isinstance(node.get("$ref"), str):
            return node
        ref = node["$ref"]
        if not ref.startswith("#"):
            return MISSING
        try:
            node = resolve(root, ref[1:])
        except ValueError:
            return MISSING
    return MISSING


def schema_defines(schema: Any, pointer: str) -> bool:
    """Whether a data pointer names a place ``schema`` declares: each part a property of
    ``properties`` (or an array index with ``items``), following local ``$ref``\\ s."""
    node = _follow_ref(schema, schema)
    for part in parse(pointer):
        if not isinstance(node, Mapping):
            return False
        properties = node.get("properties")
        if isinstance(properties, Mapping) and part in properties:
            node = _follow_ref(schema, properties[part])
        elif part.isdigit() and isinstance(node.get("items"), Mapping | bool):
            node = _follow_ref(schema, node["items"])
        else:
            return False
    return node is not MISSING
