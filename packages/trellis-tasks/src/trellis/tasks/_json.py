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

    :raises TaskArgumentsError: naming the task, the argument, where inside it the bad value
        sits, its type, and what to pass instead.
    """
    for name, value in kwargs.items():
        _check(task, name, value, name)


def _check(task: str, argument: str, value: object, where: str) -> None:
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
        _refuse(task, argument, where, value, "a non-finite float, which JSON cannot carry")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(task, argument, item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                _refuse(task, argument, where, key, f"a dict key of type {_type(key)}")
            _check(task, argument, item, f"{where}[{key!r}]")
        return
    _refuse(task, argument, where, value, f"a {_type(value)}, which JSON cannot carry")


def _type(value: object) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _refuse(task: str, argument: str, where: str, value: object, what: str) -> None:
    advice = _ADVICE.get(type(value).__name__, "convert it to a JSON value")
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    at = "" if where == argument else f" at {where}"
    raise TaskArgumentsError(
        f"task {task!r}: argument {argument!r}{at} is {what} ({shown}); task arguments must be "
        f"JSON values (str, int, float, bool, None, list, dict with str keys): {advice}"
    )
