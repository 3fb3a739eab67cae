"""The ``local`` provider of the tiny ``greet`` contract (what the tiny service serves)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from trellis.core import hookimpl

from . import GreetRefused, hookspecs
from .hookspecs import Receipt

TRELLIS_IMPLEMENTS = {"greet": ">=1.0,<2"}
TRELLIS_PROVIDES = {"greet": "local"}
TRELLIS_HOOKSPECS = [hookspecs]


@hookimpl
def greet_hello(name: str, times: int, loud: bool) -> list[str]:
    if name == "nobody":
        raise GreetRefused(f"will not greet {name!r}")
    text = f"hello, {name}"
    return [text.upper() if loud else text] * times


@hookimpl
def greet_upload(label: str, stream: BinaryIO) -> Receipt:
    total = 0
    while chunk := stream.read(65536):
        total += len(chunk)
    return Receipt(label, total, datetime.now(UTC), ("a", "b"), None)


@hookimpl
def greet_numbers(upto: int) -> Iterator[int]:
    for number in range(upto):
        if upto == 13 and number == 13 - 1:
            raise GreetRefused("unlucky")
        yield number


@hookimpl
def greet_echo(payload: dict[str, list[int]] | None) -> dict[str, list[int]] | None:
    return payload


@hookimpl
def greet_boom() -> int:
    raise RuntimeError("secret internals: /etc/greet.conf line 3")
