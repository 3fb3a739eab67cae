"""Provider routing: which provider answers a contract's provider hooks, and the callers for it.

A provider hook is a ``firstresult`` spec; the :class:`ProviderRouter` builds, per hook, a
pluggy subset caller that leaves out every other provider of the contract, so only the
selected one answers. Callers are cached until the set of active plugins changes.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from ._errors import ProviderError, ProviderNotSelected, TrellisError, UnknownProvider
from ._loader import suggest
from ._records import PluginRecord
from ._registry import PluginRegistry, is_provider_hook

Counter = list[int]
Entry = tuple[pluggy.HookCaller, Counter, Counter]
"""A cached provider caller with its hook and implementation counters."""


class ProviderRouter:
    """Selects providers and builds the callers that reach only the selected one."""

    def __init__(self, registry: PluginRegistry) -> None:
        self.registry = registry
        self.callers: dict[str, Entry] = {}

    def clear(self) -> None:
        """Forget cached callers (a plugin was added, removed or quarantined)."""
        self.callers.clear()

    def providers(self, contract: str) -> dict[str, str]:
        """Active providers of ``contract``: provider name → plugin name."""
        return {
            r.provides[contract]: r.name
            for r in self.registry.records.values()
            if r.status == "active" and contract in r.provides
        }

    def selected_provider(self, contract: str) -> str:
        """The provider name that answers ``contract``'s provider hooks.

        :raises ProviderNotSelected: nothing configured and no default.
        :raises UnknownProvider: the configured name is not an active provider.
        """
        config = self.registry.config
        spec = self.registry.contracts.get(contract)
        available = self.providers(contract)
        selection = config.providers.get(contract)
        source = config.sources.get(contract, f"Config.providers[{contract!r}]")
        if selection is None and spec is not None and spec.default_provider:
            selection, source = spec.default_provider, f"the default of contract {contract!r}"
        if selection is None:
            raise ProviderNotSelected(
                f"no provider selected for contract {contract!r}: set "
                f"TRELLIS_{contract.upper()}_PROVIDER (or TRELLIS['PROVIDERS'][{contract!r}]) "
                f"to one of: {_choices(available)}"
            )
        if selection not in available:
            raise UnknownProvider(
                f"{source} selects provider {selection!r} for contract {contract!r}, "
                f"{self._why_missing(contract, selection)}"
            )
        return selection

    def caller(self, hook: str, provider: str | None = None) -> Entry:
        """A caller of provider hook ``hook`` reaching only ``provider`` (default: selected).

        :raises UnknownProvider: ``provider`` is not an active provider of the contract.
        :raises ProviderError: the provider does not implement ``hook``.
        """
        registry = self.registry
        caller = hookcaller(registry, hook)
        if not is_provider_hook(caller):
            raise TrellisError(
                f"{hook!r} is an extension hook: call it with host.collect({hook!r})"
            )
        contract = registry.hook_contract[hook]
        available = self.providers(contract)
        if provider is not None and provider not in available:
            raise UnknownProvider(
                f"no active provider {provider!r} for contract {contract!r}: "
                f"{self._why_missing(contract, provider)}"
            )
        selected = provider if provider is not None else self.selected_provider(contract)
        plugin_name = available[selected]
        implemented = {
            impl.plugin_name
            for impl in caller.get_hookimpls()
            if not (impl.wrapper or impl.hookwrapper)
        }
        if plugin_name not in implemented:
            raise ProviderError(
                f"provider {selected!r} (plugin {plugin_name!r}) of contract {contract!r} does "
                f"not implement {hook!r}"
            )
        others = [
            registry.pm.get_plugin(name) for name in available.values() if name != plugin_name
        ]
        monitor = registry.monitor
        return (
            registry.pm.subset_hook_caller(hook, others),
            monitor.hook_counter(hook) if monitor.enabled else [0, 0],
            monitor.impl_counter(hook, plugin_name) if monitor.enabled else [0, 0],
        )

    def _why_missing(self, contract: str, name: str) -> str:
        """Why provider ``name`` of ``contract`` cannot answer, and what there is instead."""
        available = self.providers(contract)
        records = self.registry.records.values()
        inactive = [r for r in records if r.status != "active" and _provides(r, contract, name)]
        if inactive:
            return (
                "which is installed but "
                + "; ".join(map(_inactive, inactive))
                + (f"; available: {_choices(available)}")
            )
        hint = suggest(name, sorted({*available, *_named_providers(records, contract)}))
        failed_imports = [
            repr(r.name)
            for r in records
            if r.status == "quarantined" and r.reason.startswith("import failed")
        ]
        extra = f" (plugins that failed to import: {', '.join(failed_imports)})"
        return (
            f"which is not installed{hint}{extra if failed_imports else ''}; "
            f"available: {_choices(available)}"
        )


def hookcaller(registry: PluginRegistry, hook: str) -> pluggy.HookCaller:
    """The pluggy caller of ``hook``.

    :raises TrellisError: no installed contract defines ``hook`` (with a "did you mean").
    """
    if hook not in registry.hook_contract:
        raise TrellisError(
            f"no installed contract defines hook {hook!r}"
            f"{suggest(hook, sorted(registry.hook_contract))}; installed contracts: "
            f"{', '.join(sorted(registry.contracts))}"
        )
    caller: pluggy.HookCaller = getattr(registry.pm.hook, hook)
    return caller


def _choices(available: dict[str, str]) -> str:
    return ", ".join(sorted(available)) or "none installed"


def _inactive(record: PluginRecord) -> str:
    return f"{record.status} (plugin {record.name!r}: {record.reason})"


def _provides(record: PluginRecord, contract: str, name: str) -> bool:
    """Whether inactive plugin ``record`` is (or is very likely) provider ``name``."""
    if record.provides:
        return record.provides.get(contract) == name
    # A disabled plugin is never imported, and one that failed to import or to declare never
    # said what it provides: the entry-point naming convention (blobs-s3) is all there is.
    return record.name in (f"{contract}-{name}", f"{contract}_{name}")


def _named_providers(records: Iterable[PluginRecord], contract: str) -> set[str]:
    return {r.provides[contract] for r in records if contract in r.provides}
