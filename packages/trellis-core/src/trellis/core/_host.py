"""The plugin host: loads plugins with quarantine, routes provider hooks, collects extensions."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from time import perf_counter_ns
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs as core_hookspecs
from ._config import Config
from ._contracts import Contract, contract_of, satisfies
from ._errors import (
    ContractError,
    PluginLoadError,
    ProviderError,
    ProviderNotSelected,
    TrellisError,
    UnknownProvider,
)
from ._loader import (
    DEFAULT_PLUGINS,
    Candidate,
    builtin,
    describe_exception,
    from_entry_point,
    from_object,
    installed_entry_points,
    read_declarations,
    suggest,
)
from ._markers import PROJECT_NAME
from ._monitor import Monitor
from ._records import HookInfo, Implementer, PluginRecord

_log = logging.getLogger("trellis.core")


class _Quarantine(Exception):
    """Internal: a plugin fails a load step; the message becomes its quarantine reason."""


class _MonitoredPlugin:
    """Stands in for a plugin in pluggy so extension-hook implementation calls are timed.

    Wrappers (generators) are timed only as part of the hook call; provider-hook
    implementations are timed once by :meth:`Host.call`, which knows the one that answers.
    """

    def __init__(
        self, plugin: Any, name: str, impls: dict[str, str], untimed: set[str], monitor: Monitor
    ) -> None:
        self.trellis_plugin = plugin
        for attr, hook in impls.items():
            function = getattr(plugin, attr)
            opts = getattr(function, f"{PROJECT_NAME}_impl", {})
            if opts.get("wrapper") or opts.get("hookwrapper") or hook in untimed:
                setattr(self, attr, function)
            else:
                setattr(self, attr, monitor.timed(hook, name, function))

    def __repr__(self) -> str:
        return f"<monitored {self.trellis_plugin!r}>"


class Host:
    """A pluggy plugin manager with Trellis's contracts, quarantine, providers and monitoring.

    Build one with :func:`trellis.core.create_host` (or use the process-wide
    :func:`trellis.core.get_host`); call provider hooks with :meth:`call` and extension hooks
    with :meth:`collect`.
    """

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.monitor = Monitor(enabled=self.config.monitor)
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._records: dict[str, PluginRecord] = {}
        self._objects: dict[str, Any] = {}
        self._contracts: dict[str, Contract] = {}
        self._spec_modules: dict[str, ModuleType] = {}
        self._hook_contract: dict[str, str] = {}
        self._callers: dict[str, tuple[pluggy.HookCaller, list[int], list[int]]] = {}
        self._monitoring = self.monitor.enabled
        self._add_specs(core_hookspecs)

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
        return self._records[candidate.record_key]

    def unregister(self, name: str) -> None:
        """Remove an active plugin; its record is dropped too."""
        if self._pm.has_plugin(name):
            self._pm.unregister(name=name)
        self._records.pop(name, None)
        self._objects.pop(name, None)
        self._callers.clear()

    def quarantine(self, name: str, reason: str) -> PluginRecord:
        """Quarantine an active plugin after loading (it failed while composing the service).

        It is unregistered from pluggy, so no hook reaches it again, and its record says why.

        :raises TrellisError: ``name`` is not an active plugin.
        :raises PluginLoadError: in strict mode, after recording the quarantine.
        """
        record = self._records.get(name)
        if record is None or record.status != "active":
            raise TrellisError(
                f"no active plugin named {name!r}; active: "
                f"{', '.join(n for n, r in self._records.items() if r.status == 'active')}"
            )
        if self._pm.has_plugin(name):
            self._pm.unregister(name=name)
        self._objects.pop(name, None)
        self._callers.clear()
        record.status = "quarantined"
        record.reason = reason
        _log.warning("plugin %r quarantined: %s", name, reason)
        if self.config.strict:
            raise PluginLoadError(
                "strict mode (TRELLIS_STRICT / TRELLIS['STRICT']) refuses to start with "
                f"quarantined plugins:\n  - {name}: {reason}"
            )
        return record

    def _load(self, candidates: Iterable[Candidate]) -> None:
        ready: list[Candidate] = []
        claimed: dict[str, Candidate] = {}  # names taken earlier in this batch
        for candidate in candidates:
            other = self._records.get(candidate.name) or claimed.get(candidate.name)
            if other is not None:
                self._quarantine(
                    candidate,
                    f"name {candidate.name!r} is already used by module {other.module!r}"
                    f" ({other.distribution or 'not installed'}); give one of them another "
                    "entry-point or registration name",
                    duplicate=True,
                )
                continue
            claimed[candidate.name] = candidate
            denied = candidate.name in self.config.deny
            if denied or not (candidate.builtin or self.config.allows(candidate.name)):
                why = (
                    "listed in the deny setting (TRELLIS_PLUGINS_DENY / TRELLIS['DENY'])"
                    if denied
                    else "not in the allow setting (TRELLIS_PLUGINS_ALLOW / TRELLIS['ALLOW'])"
                )
                self._records[candidate.name] = self._record(candidate, "disabled", why)
                candidate.record_key = candidate.name
                continue
            try:
                candidate.obj = candidate.load()
            except (Exception, SystemExit) as exc:
                self._quarantine(candidate, f"import failed: {describe_exception(exc)}")
                continue
            try:
                read_declarations(candidate)
            except ContractError as exc:
                self._quarantine(candidate, str(exc))
                continue
            ready.append(candidate)

        # Every contract is known before any implementation is checked, so load order
        # between a subsystem and its providers does not matter.
        with_specs: list[Candidate] = []
        for candidate in ready:
            try:
                self._check_specs(candidate)
            except _Quarantine as exc:
                self._quarantine(candidate, str(exc))
                continue
            for module in candidate.hookspecs:
                if contract_of(module).name not in self._spec_modules:
                    self._add_specs(module)
            with_specs.append(candidate)

        for candidate in with_specs:
            try:
                impls = self._check_impls(candidate)
                self._register(candidate, impls)
            except _Quarantine as exc:
                self._quarantine(candidate, str(exc))
        self._callers.clear()
        if self.config.strict:
            failed = [r for r in self._records.values() if r.status == "quarantined"]
            if failed:
                lines = "\n".join(f"  - {r.name}: {r.reason}" for r in failed)
                raise PluginLoadError(
                    "strict mode (TRELLIS_STRICT / TRELLIS['STRICT']) refuses to start with "
                    f"quarantined plugins:\n"
                    f"{lines}"
                )

    def _check_specs(self, candidate: Candidate) -> None:
        for module in candidate.hookspecs:
            try:
                contract = contract_of(module)
            except ContractError as exc:
                raise _Quarantine(str(exc)) from None
            known = self._spec_modules.get(contract.name)
            if known is not None and known is not module:
                raise _Quarantine(
                    f"defines contract {contract.name!r} in {module.__name__!r}, but "
                    f"{known.__name__!r} already defines it"
                )
            names = [n for n in dir(module) if self._pm.parse_hookspec_opts(module, n)]
            if not names:
                raise _Quarantine(f"hookspec module {module.__name__!r} defines no hooks")
            wrong = [n for n in names if not n.startswith(f"{contract.name}_")]
            if wrong:
                raise _Quarantine(
                    f"hooks of contract {contract.name!r} must be named "
                    f"'{contract.name}_<verb>'; found {', '.join(wrong)} in {module.__name__!r}"
                )

    def _add_specs(self, module: ModuleType) -> None:
        contract = contract_of(module)
        self._pm.add_hookspecs(module)
        self._contracts[contract.name] = contract
        self._spec_modules[contract.name] = module
        for name in dir(module):
            if self._pm.parse_hookspec_opts(module, name):
                self._hook_contract[name] = contract.name

    def _check_impls(self, candidate: Candidate) -> dict[str, str]:
        """Check every implementation against its contract; return ``{attribute: hook}``."""
        obj = candidate.obj
        # Every declared range of an installed contract is checked, implemented or not: a
        # plugin that only calls a contract (or implements it later) still relies on it.
        for declared, declared_range in candidate.implements.items():
            installed = self._contracts.get(declared)
            if installed is not None and not satisfies(installed.version, declared_range):
                raise _Quarantine(
                    f"{candidate.label} implements contract {declared!r} "
                    f"{candidate.implements_text[declared]!r}, but the installed contract "
                    f"{declared!r} is version {installed.version}; upgrade the plugin or "
                    f"install a {declared!r} contract it supports"
                )
        impls: dict[str, str] = {}
        for attr in dir(obj):
            opts = self._pm.parse_hookimpl_opts(obj, attr)
            if opts is None:
                continue
            hook = opts.get("specname") or attr
            contract_name = self._hook_contract.get(hook)
            if contract_name is None:
                if opts.get("optionalhook"):
                    impls[attr] = hook  # kept: pluggy calls it once the contract is installed
                    continue
                raise _Quarantine(
                    f"implements {hook!r}, which no installed contract defines"
                    f"{suggest(hook, sorted(self._hook_contract))}; fix the name, install the "
                    "package that defines it, or mark it @hookimpl(optionalhook=True)"
                )
            contract = self._contracts[contract_name]
            spec_range = candidate.implements.get(contract_name)
            if spec_range is None:
                raise _Quarantine(
                    f"implements {hook!r} of contract {contract_name!r} {contract.version} but "
                    f"does not declare a range for it: add "
                    f"TRELLIS_IMPLEMENTS = {{{contract_name!r}: '>={contract.version},<"
                    f"{int(contract.version.split('.')[0]) + 1}'}}"
                )
            hookcaller = getattr(self._pm.hook, hook)
            is_wrapper = bool(opts.get("wrapper") or opts.get("hookwrapper"))
            if (
                self._is_provider_hook(hookcaller)
                and not is_wrapper
                and contract_name not in candidate.provides
            ):
                raise _Quarantine(
                    f"implements provider hook {hook!r} but does not name itself a provider:"
                    f" add TRELLIS_PROVIDES = {{{contract_name!r}: '<provider name>'}}"
                )
            impls[attr] = hook
        for contract_name, provider in candidate.provides.items():
            for record in self._records.values():
                if record.status == "active" and record.provides.get(contract_name) == provider:
                    raise _Quarantine(
                        f"provider name {provider!r} for contract {contract_name!r} is already "
                        f"taken by plugin {record.name!r}"
                    )
        return impls

    def _register(self, candidate: Candidate, impls: dict[str, str]) -> None:
        target = candidate.obj
        if self._monitoring and impls:
            providers = {
                hook
                for hook in impls.values()
                if hook in self._hook_contract
                and self._is_provider_hook(getattr(self._pm.hook, hook))
            }
            target = _MonitoredPlugin(candidate.obj, candidate.name, impls, providers, self.monitor)
        try:
            self._pm.register(target, name=candidate.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self._pm.get_plugin(candidate.name) is target:  # never another plugin's entry
                self._pm.unregister(name=candidate.name)
            raise _Quarantine(f"pluggy refused it: {describe_exception(exc)}") from None
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:  # pragma: no cover - _check_impls is stricter
            self._pm.unregister(name=candidate.name)
            raise _Quarantine(f"pluggy refused it: {describe_exception(exc)}") from None
        record = self._record(candidate, "active", "")
        record.hooks = sorted(set(impls.values()))
        self._records[candidate.name] = record
        self._objects[candidate.name] = candidate.obj
        candidate.record_key = candidate.name

    def _record(self, candidate: Candidate, status: Any, reason: str) -> PluginRecord:
        return PluginRecord(
            name=candidate.name,
            module=candidate.module,
            distribution=candidate.distribution,
            version=candidate.version,
            builtin=candidate.builtin,
            status=status,
            reason=reason,
            implements=dict(candidate.implements_text),
            defines={c.name: c.version for c in map(_safe_contract, candidate.hookspecs) if c},
            provides=dict(candidate.provides),
        )

    def _quarantine(self, candidate: Candidate, reason: str, *, duplicate: bool = False) -> None:
        key = candidate.name
        if duplicate:  # keep the first plugin's record; file this one under name@module
            key = f"{candidate.name}@{candidate.module}"
        record = self._record(candidate, "quarantined", reason)
        record.name = key
        self._records[key] = record
        candidate.record_key = key
        _log.warning("plugin %r quarantined: %s", key, reason)

    # -- calling ------------------------------------------------------------------------------

    def call(self, hook: str, /, **kwargs: Any) -> Any:
        """Call provider hook ``hook`` on the selected provider only and return its answer.

        :raises ProviderNotSelected: no provider is selected and the contract has no default.
        :raises UnknownProvider: the selected provider is not installed or was quarantined.
        """
        try:
            caller, hook_counter, impl_counter = self._callers[hook]
        except KeyError:
            caller, hook_counter, impl_counter = self._callers[hook] = self._provider_caller(hook)
        if not self._monitoring:
            return caller(**kwargs)
        start = perf_counter_ns()  # inlined rather than _timed_call: this is the hot path
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
            entry = self._provider_caller(hook, provider=provider)
            caller, hook_counter, impl_counter = self._callers[key] = entry
        if not self._monitoring:
            return caller(**kwargs)
        return self._timed_call(caller, hook_counter, impl_counter, kwargs)

    @staticmethod
    def _timed_call(
        caller: pluggy.HookCaller,
        hook_counter: list[int],
        impl_counter: list[int],
        kwargs: dict[str, Any],
    ) -> Any:
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
        caller = self._extension_caller(hook)
        if not self._monitoring:
            return list(caller(**kwargs))
        start = perf_counter_ns()
        try:
            return list(caller(**kwargs))
        finally:
            self.monitor.record_hook(hook, perf_counter_ns() - start)

    def collect_by_plugin(
        self, hook: str, /, *, return_exceptions: bool = False, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Like :meth:`collect`, but ``(plugin name, result)`` pairs in plugin load order.

        Each plugin is called on its own, so wrappers of other plugins do not run; use it for
        start-up work (composition) where who contributed what matters.

        :param return_exceptions: put a failing plugin's exception in its pair instead of
            raising :class:`TrellisError` naming the plugin.
        """
        caller = self._extension_caller(hook)
        start = perf_counter_ns()
        try:
            return self._collect_each(caller, hook, return_exceptions, kwargs)
        finally:
            if self._monitoring:
                self.monitor.record_hook(hook, perf_counter_ns() - start)

    def _collect_each(
        self,
        caller: pluggy.HookCaller,
        hook: str,
        return_exceptions: bool,
        kwargs: dict[str, Any],
    ) -> list[tuple[str, Any]]:
        implementers = {impl.plugin_name for impl in caller.get_hookimpls()}
        results: list[tuple[str, Any]] = []
        for name, record in self._records.items():
            if record.status != "active" or name not in implementers:
                continue
            others = [self._pm.get_plugin(n) for n in implementers if n != name]
            try:
                value = self._pm.subset_hook_caller(hook, others)(**kwargs)
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

    def has_hook(self, hook: str) -> bool:
        """Whether an installed contract defines ``hook``."""
        return hook in self._hook_contract

    def _extension_caller(self, hook: str) -> pluggy.HookCaller:
        caller = self._hookcaller(hook)
        if self._is_provider_hook(caller):
            raise TrellisError(f"{hook!r} is a provider hook: call it with host.call({hook!r})")
        return caller

    def _hookcaller(self, hook: str) -> pluggy.HookCaller:
        if hook not in self._hook_contract:
            raise TrellisError(
                f"no installed contract defines hook {hook!r}"
                f"{suggest(hook, sorted(self._hook_contract))}; installed contracts: "
                f"{', '.join(sorted(self._contracts))}"
            )
        caller: pluggy.HookCaller = getattr(self._pm.hook, hook)
        return caller

    @staticmethod
    def _is_provider_hook(caller: pluggy.HookCaller) -> bool:
        return bool(caller.spec and caller.spec.opts.get("firstresult"))

    def _provider_caller(
        self, hook: str, provider: str | None = None
    ) -> tuple[pluggy.HookCaller, list[int], list[int]]:
        caller = self._hookcaller(hook)
        if not self._is_provider_hook(caller):
            raise TrellisError(
                f"{hook!r} is an extension hook: call it with host.collect({hook!r})"
            )
        contract = self._hook_contract[hook]
        available = self.providers(contract)
        if provider is not None and provider not in available:
            raise UnknownProvider(
                f"no active provider {provider!r} for contract {contract!r}; available: "
                f"{', '.join(sorted(available)) or 'none installed'}"
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
            self._pm.get_plugin(name)
            for name in self.providers(contract).values()
            if name != plugin_name
        ]
        return (
            self._pm.subset_hook_caller(hook, others),
            self.monitor.hook_counter(hook) if self._monitoring else [0, 0],
            self.monitor.impl_counter(hook, plugin_name) if self._monitoring else [0, 0],
        )

    # -- providers ----------------------------------------------------------------------------

    def providers(self, contract: str) -> dict[str, str]:
        """Active providers of ``contract``: provider name → plugin name."""
        return {
            r.provides[contract]: r.name
            for r in self._records.values()
            if r.status == "active" and contract in r.provides
        }

    def selected_provider(self, contract: str) -> str:
        """The provider name that answers ``contract``'s provider hooks.

        :raises ProviderNotSelected: nothing configured and no default.
        :raises UnknownProvider: the configured name is not an active provider.
        """
        spec = self._contracts.get(contract)
        available = self.providers(contract)
        choices = ", ".join(sorted(available)) or "none installed"
        env_var = f"TRELLIS_{contract.upper()}_PROVIDER"
        selection = self.config.providers.get(contract)
        source = self.config.sources.get(contract, f"Config.providers[{contract!r}]")
        if selection is None and spec is not None and spec.default_provider:
            selection, source = spec.default_provider, f"the default of contract {contract!r}"
        if selection is None:
            raise ProviderNotSelected(
                f"no provider selected for contract {contract!r}: set {env_var} (or "
                f"TRELLIS['PROVIDERS'][{contract!r}]) to one of: {choices}"
            )
        if selection not in available:
            broken = [
                f"{r.name!r} is quarantined: {r.reason}"
                for r in self._records.values()
                if r.status != "active" and r.provides.get(contract) == selection
            ]
            failed_imports = [
                repr(r.name)
                for r in self._records.values()
                if r.status == "quarantined" and r.reason.startswith("import failed")
            ]
            if failed_imports:
                broken.append(f"plugins that failed to import: {', '.join(failed_imports)}")
            extra = f" ({'; '.join(broken)})" if broken else ""
            raise UnknownProvider(
                f"{source} selects provider {selection!r} for contract {contract!r}, which is "
                f"not installed{extra}; available: {choices}"
            )
        return selection

    # -- introspection ------------------------------------------------------------------------

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager, for tooling; callers use :meth:`call`/:meth:`collect`."""
        return self._pm

    def plugins(self) -> list[PluginRecord]:
        """Every plugin seen, in load order, including quarantined and disabled ones."""
        return list(self._records.values())

    def plugin(self, name: str) -> Any:
        """The plugin object (module) registered as ``name``."""
        try:
            return self._objects[name]
        except KeyError:
            raise TrellisError(
                f"no active plugin named {name!r}; active: {', '.join(self._objects)}"
            ) from None

    def contracts(self) -> dict[str, Contract]:
        """Installed contracts by name."""
        return dict(sorted(self._contracts.items()))

    def hooks(self) -> list[HookInfo]:
        """Every hook specification with its implementers in call order."""
        impl_stats = self.monitor.impl_stats()
        hook_stats = self.monitor.hook_stats()
        infos = []
        for hook, contract_name in sorted(self._hook_contract.items()):
            caller: pluggy.HookCaller = getattr(self._pm.hook, hook)
            contract = self._contracts[contract_name]
            provider = self._is_provider_hook(caller)
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
            for r in self._records.values()
            if r.status == "quarantined"
        ]
        for name in sorted(self._contracts):
            has_provider_hooks = any(
                self._is_provider_hook(getattr(self._pm.hook, hook))
                for hook, contract in self._hook_contract.items()
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


def _safe_contract(module: ModuleType) -> Contract | None:
    try:
        return contract_of(module)
    except ContractError:
        return None


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
