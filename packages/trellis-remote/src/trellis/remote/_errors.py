"""Typed errors of trellis-remote, and how a hook's own error crosses the wire and back.

A hook's typed error (a :class:`~trellis.core.TrellisError` subclass that its contract's
package or trellis-core exports, such as ``trellis.blobs.NotFound``) is sent by its public
name and raised again, as the same class, in the caller. Only such classes are ever built
from what the wire says: a name the caller does not know becomes a :class:`RemoteError`.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

from trellis.core import ProviderFailed, ProviderUnavailable, TrellisError


class RemoteError(ProviderFailed):
    """A call to a remote service failed in a way the hook's contract does not describe.

    The HTTP edge answers ``502 provider_failed``. ``service`` is the service's name (as it
    reports it, else its URL), ``request_id`` the id both sides logged the call under.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        request_id: str | None = None,
        code: str = "remote_failed",
        provider: str | None = "remote",
    ) -> None:
        super().__init__(message, provider=provider)
        self.service = service
        self.request_id = request_id
        self.code = code


class RemoteUnavailable(RemoteError, ProviderUnavailable, ConnectionError):
    """The service could not be reached, broke mid-answer, or its circuit is open.

    Retrying later may work; the HTTP edge answers ``503`` with ``Retry-After``.
    """


class RemoteTimeout(RemoteUnavailable, TimeoutError):
    """The service did not answer within the client's timeout."""


class RemoteRefused(RemoteError):
    """The service refused the call itself: bad signature, expired or replayed request,
    unknown hook, malformed arguments (a 4xx answer without a typed hook error)."""


class IncompatibleContract(RemoteRefused):
    """The service runs a version of the contract outside the range this client needs.

    The client quarantines its own provider plugin, naming both versions.
    """


class CannotCarry(TrellisError):
    """A remotable hook has a type the wire cannot carry (found when the client is built)."""


class WireError(TrellisError, ValueError):
    """A value does not match the hook's type hints (sent or received); names where."""


def error_namespaces(hookspec_module: types.ModuleType) -> list[types.ModuleType]:
    """Modules whose exported error classes may cross the wire for a contract: the package
    of its hookspec module, the hookspec module itself and trellis-core."""
    modules = [hookspec_module, importlib.import_module("trellis.core")]
    package = hookspec_module.__name__.rpartition(".")[0]
    if package:
        modules.insert(0, importlib.import_module(package))
    return modules


def known_errors(modules: list[types.ModuleType]) -> dict[str, type[TrellisError]]:
    """``{public name: class}`` for every TrellisError subclass the modules export."""
    found: dict[str, type[TrellisError]] = {}
    for module in modules:
        names = getattr(module, "__all__", None) or [n for n in vars(module) if n[:1].isupper()]
        for name in names:
            value = getattr(module, name, None)
            if isinstance(value, type) and issubclass(value, TrellisError):
                found.setdefault(value.__name__, value)
    return found


def public_name(exc: BaseException, known: dict[str, type[TrellisError]]) -> str | None:
    """The name the caller can raise ``exc`` as: its own class or its nearest exported base."""
    for cls in type(exc).__mro__:
        if known.get(cls.__name__) is cls:
            return cls.__name__
    return None


def rebuild(
    name: str, message: str, provider: Any, known: dict[str, type[TrellisError]]
) -> Exception | None:
    """The typed error ``name`` with ``message``, or ``None`` when it cannot be rebuilt."""
    cls = known.get(name)
    if cls is None:
        return None
    try:
        if issubclass(cls, ProviderFailed):
            return cls(message, provider=provider if isinstance(provider, str) else None)
        return cls(message)
    except TypeError:  # a constructor with other required arguments
        return None
