"""Version 2 of the tiny ``greet`` contract: JSON in and out, a streamed argument, a listing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from trellis.core import Contract, hookspec, remotable

CONTRACT = Contract("greet", "2.0.0", default_provider="local", description="Greetings")


@dataclass(frozen=True)
class Receipt:
    label: str
    length: int
    received: datetime
    tags: tuple[str, ...]
    note: str | None


@remotable(safe=True)
@hookspec(firstresult=True)
def greet_hello(name: str, times: int, loud: bool) -> list[str]:
    """Greet ``name`` ``times`` times; raises GreetRefused for ``nobody``."""


@remotable()
@hookspec(firstresult=True)
def greet_upload(label: str, stream: BinaryIO) -> Receipt:
    """Read ``stream`` to the end and say how long it was."""


@remotable(safe=True)
@hookspec(firstresult=True)
def greet_numbers(upto: int) -> Iterator[int]:
    """0 .. upto-1, lazily; raises GreetRefused at 13 when upto is 13."""


@remotable(safe=True)
@hookspec(firstresult=True)
def greet_echo(payload: dict[str, list[int]] | None) -> dict[str, list[int]] | None:
    """Return ``payload`` as it came."""


@remotable(safe=True)
@hookspec(firstresult=True)
def greet_boom() -> int:
    """Fail with an error the contract does not describe (a bug in the provider)."""
