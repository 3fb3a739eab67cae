"""The plugin host: one facade over loading, provider routing and extension collection.

:class:`Host` keeps the public API; the work is done by a :class:`~._registry.PluginRegistry`
(loading, contract checks, quarantine), a :class:`~._routing.ProviderRouter` (which provider
answers) and an :class:`~._collecting.ExtensionCollector` (every plugin's contribution).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from time import perf_counter_ns
from typing import Any

import pluggy

from ._collecting import ExtensionCollector
from ._config import Config
from ._contracts import Contract
from ._errors import ProviderError, TrellisError
from ._loader import (
    DEFAULT_PLUGINS,
    Candidate,
    builtin,
    from_entry_point,
    from_object,
    installed_entry_points,
)
from ._monitor import Monitor
from ._records import HookInfo, Implementer, PluginRecord
from ._registry import PluginRegistry, is_provider_hook
from ._routing import ProviderRouter


class Host:
    """A pluggy plugin manager with Trellis's contracts, quarantine, providers and monitoring.

    Build one with :func:`trellis.core.create_host` (or use the process-wide
    :func:`trellis.core.get_host`); call provider hooks with :meth:`call` and extension hooks
    with :meth:`collect`.
    """

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.monitor = Monitor(enabled=self.config.monitor)
        self._router: ProviderRouter
        self._registry = PluginRegistry(self.config, self.monitor, changed=self._changed)
        self._router = ProviderRouter(self._registry)
        self._collector = ExtensionCollector(self._registry)
        self._callers = self._router.callers  # the hot path reads the router's cache directly
        self._monitoring = self.monitor.enabled

    def _changed(self) -> None:
        router = getattr(self, "_router", None)  # None while the registry is being built
        if router is not None:
            router.clear()

    # -- loading -----------------------------------------------------------------------------

    def load_builtins(self) -> None:
        """Register :data:`DEFAULT_PLUGINS` (the factory does this)."""
        self._load([builtin(name, module) for name, module in DEFAULT_PLUGINS])

    def load_entry_points(self) -> None:
        """Load every installed plugin of entry-point group ``trellis`` (scanned once)."""
        self._load([from_entry_point(ep) for ep in installed_entry_points()])

    def register(self, plugin: Any, name: str | None = None) -> PluginRecord:
        """Load one plugin object (usually a module) through every check an installed one gets.

        :return: its record; check ``status`` — a failing plugin is quarantined, not raised,
            unless the host is strict.
        """
        candidate = from_object(plugin, name)
        self._load([candidate])
        return self._registry.records[candidate.record_key]

    def unregister(self, name: str) -> None:
        """Remove an active plugin; its record is dropped too."""
        self._registry.unregister(name)

    def quarantine(self, name: str, reason: str) -> PluginRecord:
        """Quarantine an active plugin after loading (it failed while composing the service).

        It is unregistered from pluggy, so no hook reaches it again (a provider is no longer
        selectable), its record says why, and one warning is logged on ``trellis.core``.

        :raises TrellisError: ``name`` is not an active plugin.
        :raises PluginLoadError: in strict mode, after recording the quarantine.
        """
        return self._registry.quarantine(name, reason)

    def _load(self, candidates: Iterable[Candidate]) -> None:
        self._registry.load(candidates)

    # -- calling ------------------------------------------------------------------------------

    def call(self, hook: str, /, **kwargs: Any) -> Any:
        """Call provider hook ``hook`` on the selected provider only and return its answer.

        :raises ProviderNotSelected: no provider is selected and the contract has no default.
        :raises UnknownProvider: the selected provider is not active (not installed,
            quarantined or disabled).
        """
        try:
            caller, hook_counter, impl_counter = self._callers[hook]
        except KeyError:
            caller, hook_counter, impl_counter = self._callers[hook] = self._router.caller(hook)
        if not self._monitoring:
            return caller(**kwargs)
        start = perf_counter_ns()  # inlined rather than a helper: this is the hot path
        try:
            return caller(**kwargs)
        finally:
            elapsed = perf_counter_ns() - start
            hook_counter[0] += 1
            hook_counter[1] += elapsed
            impl_counter[0] += 1
            impl_counter[1] += elapsed

    def call_provider(self, provider: str, hook: str, /, **kwargs: Any) -> Any:
        """Call provider hook ``hook`` on the named provider, whichever one is selected.

        For providers built on other providers (a migrating provider reads from the old one
        and writes to the new one) and for tools that move data between providers.

        :raises UnknownProvider: ``provider`` is not an active provider of the hook's contract.
        """
        key = f"{provider}\0{hook}"
        try:
            caller, hook_counter, impl_counter = self._callers[key]
        except KeyError:
            entry = self._router.caller(hook, provider=provider)
            caller, hook_counter, impl_counter = self._callers[key] = entry
        if not self._monitoring:
            return caller(**kwargs)
        start = perf_counter_ns()
        try:
            return caller(**kwargs)
        finally:
            elapsed = perf_counter_ns() - start
            hook_counter[0] += 1
            hook_counter[1] += elapsed
            impl_counter[0] += 1
            impl_counter[1] += elapsed

    def collect(self, hook: str, /, **kwargs: Any) -> list[Any]:
        """Call extension hook ``hook`` on every active plugin; results in pluggy call order."""
        return self._collector.collect(hook, kwargs)

    def collect_by_plugin(
        self, hook: str, /, *, return_exceptions: bool = False, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Like :meth:`collect`, but ``(plugin name, result)`` pairs in plugin load order.

        Each plugin is called on its own, so wrappers of other plugins do not run; use it for
        start-up work (composition) where who contributed what matters.

        :param return_exceptions: put a failing plugin's exception in its pair instead of
            raising :class:`TrellisError` naming the plugin.
        """
        return self._collector.collect_by_plugin(hook, return_exceptions, kwargs)

    def has_hook(self, hook: str) -> bool:
        """Whether an installed contract defines ``hook``."""
        return hook in self._registry.hook_contract

    # -- providers ----------------------------------------------------------------------------

    def providers(self, contract: str) -> dict[str, str]:
        """Active providers of ``contract``: provider name → plugin name."""
        return self._router.providers(contract)

    def selected_provider(self, contract: str) -> str:
        """The provider name that answers ``contract``'s provider hooks.

        :raises ProviderNotSelected: nothing configured and no default.
        :raises UnknownProvider: the configured name is not an active provider (the message
            says whether it is quarantined, disabled or not installed, with a "did you mean").
        """
        return self._router.selected_provider(contract)

    # -- introspection ------------------------------------------------------------------------

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager, for tooling; callers use :meth:`call`/:meth:`collect`."""
        return self._registry.pm

    def plugins(self) -> list[PluginRecord]:
        """Every plugin seen, in load order, including quarantined and disabled ones."""
        return list(self._registry.records.values())

    def plugin(self, name: str) -> Any:
        """The plugin object (module) registered as ``name``."""
        try:
            return self._registry.objects[name]
        except KeyError:
            raise TrellisError(
                f"no active plugin named {name!r}; active: {', '.join(self._registry.objects)}"
            ) from None

    def contracts(self) -> dict[str, Contract]:
        """Installed contracts by name."""
        return dict(sorted(self._registry.contracts.items()))

    def hooks(self) -> list[HookInfo]:
        """Every hook specification with its implementers in call order."""
        impl_stats = self.monitor.impl_stats()
        hook_stats = self.monitor.hook_stats()
        infos = []
        for hook, contract_name in sorted(self._registry.hook_contract.items()):
            caller: pluggy.HookCaller = getattr(self._registry.pm.hook, hook)
            contract = self._registry.contracts[contract_name]
            provider = is_provider_hook(caller)
            try:
                chosen = self.providers(contract_name).get(self.selected_provider(contract_name))
            except ProviderError:
                chosen = None
            implementers = []
            for impl in reversed(caller.get_hookimpls()):
                stats = impl_stats.get((hook, impl.plugin_name))
                implementers.append(
                    Implementer(
                        plugin=impl.plugin_name,
                        function=getattr(impl.function, "__qualname__", hook),
                        wrapper=bool(impl.wrapper or impl.hookwrapper),
                        tryfirst=impl.tryfirst,
                        trylast=impl.trylast,
                        calls=stats.calls if stats else 0,
                        total_ns=stats.total_ns if stats else 0,
                        selected=(impl.plugin_name == chosen) if provider else None,
                    )
                )
            assert caller.spec is not None
            function = caller.spec.function
            doc = inspect.getdoc(function) or ""
            totals = hook_stats.get(hook)
            infos.append(
                HookInfo(
                    name=hook,
                    contract=contract_name,
                    contract_version=contract.version,
                    kind="provider" if provider else "extension",
                    signature=f"{hook}{_signature(function)}",
                    summary=doc.split("\n\n")[0].replace("\n", " "),
                    implementers=tuple(implementers),
                    calls=totals.calls if totals else 0,
                    total_ns=totals.total_ns if totals else 0,
                )
            )
        return infos

    def problems(self) -> list[str]:
        """Everything ``trellis check`` fails on: quarantined plugins, unusable providers."""
        found = [
            f"plugin {r.name!r} is quarantined: {r.reason}"
            for r in self._registry.records.values()
            if r.status == "quarantined"
        ]
        for name in sorted(self._registry.contracts):
            has_provider_hooks = any(
                is_provider_hook(getattr(self._registry.pm.hook, hook))
                for hook, contract in self._registry.hook_contract.items()
                if contract == name
            )
            if has_provider_hooks:
                try:
                    self.selected_provider(name)
                except ProviderError as exc:
                    found.append(str(exc))
        return found


class _Annotation:
    """Shows a string annotation unquoted: ``-> Sequence[str]``, not ``-> 'Sequence[str]'``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _signature(function: Any) -> str:
    signature = inspect.signature(function)

    def raw(annotation: Any) -> Any:
        return _Annotation(annotation) if isinstance(annotation, str) else annotation

    parameters = [p.replace(annotation=raw(p.annotation)) for p in signature.parameters.values()]
    return str(
        signature.replace(parameters=parameters, return_annotation=raw(signature.return_annotation))
    )


def create_host(
    config: Config | None = None,
    *,
    builtins: bool = True,
    discover: bool = True,
    plugins: Iterable[Any] = (),
) -> Host:
    """Build a host: built-in plugins, then installed entry points, then ``plugins`` objects.

    :param config: settings; defaults to :meth:`Config.load` from the environment.
    :param builtins: register trellis-core's own plugins.
    :param discover: load installed plugins of entry-point group ``trellis``.
    :param plugins: extra plugin objects (modules) to register, for tests and embedding.
    :raises PluginLoadError: only in strict mode, when a plugin is quarantined.
    """
    host = Host(config if config is not None else Config.load())
    if builtins:
        host.load_builtins()
    if discover:
        host.load_entry_points()
    host._load([from_object(plugin) for plugin in plugins])  # one batch: order-free
    return host
