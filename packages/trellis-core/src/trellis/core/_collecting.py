"""Extension hooks: every active plugin's contribution, all at once or plugin by plugin."""

from __future__ import annotations

from time import perf_counter_ns
from typing import Any

import pluggy

from ._errors import TrellisError
from ._loader import describe_exception
from ._registry import PluginRegistry, is_provider_hook
from ._routing import hookcaller


class ExtensionCollector:
    """Calls extension hooks and records each call with the monitor (when it is on)."""

    def __init__(self, registry: PluginRegistry) -> None:
        self.registry = registry
        self.monitor = registry.monitor

    def collect(self, hook: str, kwargs: dict[str, Any]) -> list[Any]:
        """Results of ``hook`` from every active plugin, in pluggy call order."""
        caller = self._caller(hook)
        if not self.monitor.enabled:
            return list(caller(**kwargs))
        start = perf_counter_ns()
        try:
            return list(caller(**kwargs))
        finally:
            self.monitor.record_hook(hook, perf_counter_ns() - start)

    def collect_by_plugin(
        self, hook: str, return_exceptions: bool, kwargs: dict[str, Any]
    ) -> list[tuple[str, Any]]:
        """``(plugin, result)`` pairs in plugin load order; see :meth:`Host.collect_by_plugin`."""
        caller = self._caller(hook)
        start = perf_counter_ns()
        try:
            return self._each(caller, hook, return_exceptions, kwargs)
        finally:
            if self.monitor.enabled:
                self.monitor.record_hook(hook, perf_counter_ns() - start)

    def _each(
        self,
        caller: pluggy.HookCaller,
        hook: str,
        return_exceptions: bool,
        kwargs: dict[str, Any],
    ) -> list[tuple[str, Any]]:
        pm = self.registry.pm
        implementers = {impl.plugin_name for impl in caller.get_hookimpls()}
        results: list[tuple[str, Any]] = []
        for name, record in list(self.registry.records.items()):
            if record.status != "active" or name not in implementers:
                continue
            others = [pm.get_plugin(n) for n in implementers if n != name]
            try:
                value = pm.subset_hook_caller(hook, others)(**kwargs)
            except Exception as exc:
                if return_exceptions:
                    results.append((name, exc))
                    continue
                raise TrellisError(
                    f"plugin {name!r} failed in {hook}: {describe_exception(exc)}"
                ) from exc
            if value:
                results.append((name, value[0]))
        return results

    def _caller(self, hook: str) -> pluggy.HookCaller:
        caller = hookcaller(self.registry, hook)
        if is_provider_hook(caller):
            raise TrellisError(f"{hook!r} is a provider hook: call it with host.call({hook!r})")
        return caller
