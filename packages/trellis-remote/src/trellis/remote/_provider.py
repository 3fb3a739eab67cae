"""The client provider: a plugin answering a contract's remotable hooks through its service."""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Sequence
from typing import Any

from trellis.core import (
    ConfigurationError,
    HealthCheck,
    HealthResult,
    ProviderError,
    get_host,
    hookimpl,
)
from trellis.core import Contract as _Contract

from ._client import RemoteClient
from ._errors import CannotCarry, IncompatibleContract, RemoteError, RemoteUnavailable
from ._wire import HookShape, remotable_shapes


def _contract_of(hookspecs: types.ModuleType) -> _Contract:
    value = getattr(hookspecs, "CONTRACT", None)
    if not isinstance(value, _Contract):
        raise CannotCarry(f"{hookspecs.__name__!r} declares no CONTRACT = Contract(...)")
    return value


class RemoteProvider:
    """A provider plugin named ``remote`` (by default) for one contract.

    It implements every hook the hookspec module marks :func:`~trellis.core.remotable` by
    calling the service named in ``TRELLIS_REMOTE_<CONTRACT>_URL``, and contributes the
    ``remote.<contract>`` health check. Build one with :func:`client_provider`.
    """

    def __init__(self, hookspecs: types.ModuleType, provider: str = "remote") -> None:
        contract = _contract_of(hookspecs)
        shapes = remotable_shapes(hookspecs, contract)
        if not shapes:
            raise CannotCarry(
                f"contract {contract.name!r} marks no hook @remotable: there is nothing to call"
            )
        major = int(contract.version.split(".")[0])
        self.contract = contract
        self.provider = provider
        self.client = RemoteClient(hookspecs, contract, shapes, provider)
        self.__name__ = f"trellis.remote.clients.{contract.name}-{provider}"
        self.TRELLIS_HOOKSPECS = [hookspecs]
        self.TRELLIS_IMPLEMENTS = {
            "core": ">=1.0,<2",
            contract.name: f">={contract.version},<{major + 1}",
        }
        self.TRELLIS_PROVIDES = {contract.name: provider}
        for name, shape in shapes.items():
            setattr(self, name, self._implementation(getattr(hookspecs, name), shape))

    def __repr__(self) -> str:
        return f"<remote provider {self.provider!r} of contract {self.contract.name!r}>"

    def _implementation(self, spec: Callable[..., Any], shape: HookShape) -> Callable[..., Any]:
        client = self.client

        # functools.wraps gives pluggy the spec's own argument names (through __wrapped__);
        # pluggy then passes them by position.
        @functools.wraps(spec)
        def call(*args: Any) -> Any:
            return client.call(shape.name, dict(zip(shape.params, args, strict=True)))

        return hookimpl(call)

    @hookimpl
    def core_health_checks(self) -> Sequence[HealthCheck]:
        return [HealthCheck(f"remote.{self.contract.name}", self.health, deep=True)]

    def health(self) -> HealthResult:
        """Whether the service answers for this contract (only when this provider is in use)."""
        name = self.contract.name
        try:
            selected = get_host().selected_provider(name)
        except ProviderError:
            selected = None
        if selected != self.provider:
            return HealthResult("ok", f"not in use: contract {name!r} uses provider {selected!r}")
        try:
            settings, service = self.client.state()
        except ConfigurationError as exc:
            return HealthResult("fail", str(exc))
        details: dict[str, object] = {"url": settings.url}
        try:
            info = self.client.describe()
        except IncompatibleContract as exc:
            return HealthResult("fail", str(exc), details)
        except RemoteUnavailable as exc:
            snapshot = service.breaker.snapshot()
            details.update(circuit=snapshot.state, failures=snapshot.failures)
            return HealthResult("warn", f"degraded: {exc}", details)
        except RemoteError as exc:
            return HealthResult("warn", f"degraded: {exc}", details)
        snapshot = service.breaker.snapshot()
        details.update(
            circuit=snapshot.state,
            service=info.get("service"),
            version=info.get("version"),
            provider=info.get("provider"),
        )
        return HealthResult(
            "ok",
            f"service {info.get('service')!r} at {settings.url} serves contract {name!r} "
            f"{info.get('version')} with provider {info.get('provider')!r}",
            details,
        )


def client_provider(hookspecs: types.ModuleType, provider: str = "remote") -> RemoteProvider:
    """The ``remote`` provider plugin of the contract ``hookspecs`` declares.

    Register it like any plugin (an entry point whose value is ``module:attribute``, or
    ``create_host(..., plugins=[client_provider(my_hookspecs)])``) and select it with
    ``TRELLIS_<CONTRACT>_PROVIDER=remote``.

    :raises CannotCarry: the contract marks no hook remotable, or one cannot cross the wire.
    """
    return RemoteProvider(hookspecs, provider)
