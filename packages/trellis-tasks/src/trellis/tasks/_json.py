"""Task arguments are JSON values, checked at enqueue time so nothing fails later in a worker."""

from __future__ import annotations

import math
from collections.abc import Mapping

from ._errors import TaskArgumentsError

_SCALARS = (str, bool, int, type(None))
_ADVICE = {
    "datetime": "pass an ISO 8601 string (value.isoformat())",
    "date": "pass an ISO 8601 string (value.isoformat())",
    "Decimal": "pass a string (str(value))",
    "UUID": "pass a string (str(value))",
    "set": "pass a sorted list",
    "frozenset": "pass a sorted list",
    "tuple": "pass a list",
    "bytes": "pass a string (base64 or the blob key of stored content)",
}


def check_json_kwargs(task: str, kwargs: Mapping[str, object]) -> None:
    """Refuse any argument that is not a JSON value that survives a round trip unchanged.

    Allowed: ``str``, ``int``, finite ``float``, ``bool``, ``None``, ``list`` and ``dict``
    with ``str`` keys, nested. Tuples are refused too: JSON would turn them into lists.

    Strings (values and keys) must also be storable by every database a durable record may
    live in: PostgreSQL's ``jsonb`` refuses NUL (``\\x00``) and a lone surrogate cannot be
    encoded to UTF-8. Refused here, they fail in the caller with the path, not as a raw
    ``DataError`` that breaks the caller's transaction. Circular containers and nesting too
    deep to serialise are refused too.

    :raises TaskArgumentsError: naming the task, the argument, where inside it the bad value
        sits, its type, and what to pass instead.
    """
    for name, value in kwargs.items():
        _check_string(task, name, name, name)
        try:
            _check(task, name, value, name, set())
        except RecursionError:
            raise TaskArgumentsError(
                f"task {task!r}: argument {name!r} is nested too deep to check or serialise; "
                "pass a flatter structure (or store the data and pass its key)"
            ) from None


def _check_string(task: str, argument: str, where: str, value: str, key: bool = False) -> None:
    what = "a dict key" if key else "a string"
    if "\x00" in value:
        _refuse(
            task,
            argument,
            where,
            value,
            f"{what} containing NUL (\\x00), which PostgreSQL cannot store",
            advice="remove the NUL characters or base64-encode the text",
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        _refuse(
            task,
            argument,
            where,
            value,
            f"{what} with a lone surrogate at index {exc.start}, which is not valid UTF-8",
            advice="decode the source text correctly (errors='replace' drops such characters)",
        )


def _check(task: str, argument: str, value: object, where: str, path: set[int]) -> None:
    if isinstance(value, str):
        _check_string(task, argument, where, value)
        return
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
        _refuse(task, argument, where, value, "a non-finite float, which JSON cannot carry")
    if isinstance(value, (list, dict)):
        # Only containers on the current path count: one list shared by two places is fine.
        if id(value) in path:
            _refuse(
                task,
                argument,
                where,
                "...",
                "a circular reference to a container that holds it",
                advice="pass a copy without the cycle",
            )
        path.add(id(value))
        try:
            if isinstance(value, list):
                for index, item in enumerate(value):
                    _check(task, argument, item, f"{where}[{index}]", path)
            else:
                for key, item in value.items():
                    if not isinstance(key, str):
                        _refuse(task, argument, where, key, f"a dict key of type {_type(key)}")
                    _check_string(task, argument, f"{where}[{key!r}]", key, key=True)
                    _check(task, argument, item, f"{where}[{key!r}]", path)
        finally:
            path.discard(id(value))
        return
    _refuse(task, argument, where, value, f"a {_type(value)}, which JSON cannot carry")


def _type(value: object) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _refuse(
    task: str, argument: str, where: str, value: object, what: str, advice: str = ""
) -> None:
    advice = advice or _ADVICE.get(type(value).__name__, "convert it to a JSON value")
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    at = "" if where == argument else f" at {where}"
    raise TaskArgumentsError(
        f"task {task!r}: argument {argument!r}{at} is {what} ({shown}); task arguments must be "
        f"JSON values (str, int, float, bool, None, list, dict with str keys): {advice}"
    )
