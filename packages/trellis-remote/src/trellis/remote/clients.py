"""Client providers of the remotable contracts Trellis ships, loaded by entry point.

``blobs-remote = "trellis.remote.clients:blobs"`` makes provider ``remote`` of contract
``blobs``. The attribute is built on first use; when the contract's package is not installed
it is an inert plugin (no hooks), so installing trellis-remote alone changes nothing. Another
contract gets its client with :func:`trellis.remote.client_provider` in its own module.
"""

from __future__ import annotations

import functools
import importlib
import types
from typing import Any

KNOWN = {"blobs": "trellis.blobs.hookspecs"}
"""Contract → hookspec module of the client providers this module offers."""


class Inert:
    """Stands in for a client whose contract is not installed: declares and does nothing."""

    def __init__(self, contract: str) -> None:
        self.__name__ = f"trellis.remote.clients.{contract}-remote"
        self.reason = f"contract {contract!r} is not installed (no {KNOWN[contract]})"

    def __repr__(self) -> str:
        return f"<inert remote client: {self.reason}>"


@functools.cache
def _client(contract: str) -> Any:
    from ._provider import client_provider

    try:
        module = importlib.import_module(KNOWN[contract])
    except ModuleNotFoundError as exc:
        if exc.name and KNOWN[contract].startswith(exc.name):
            return Inert(contract)
        raise
    assert isinstance(module, types.ModuleType)
    return client_provider(module)


def __getattr__(name: str) -> Any:
    if name in KNOWN:
        return _client(name)
    raise AttributeError(f"module {__name__!r} has no client for contract {name!r}")
