"""Loading plugins: declarations, contract checks, registration with pluggy, quarantine.

The :class:`PluginRegistry` owns the pluggy manager and what is known of every plugin; the
host's router and collector read it. A plugin that fails any step is quarantined with the
reason (one warning on logger ``trellis.core``), never raised, unless the config is strict.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs as core_hookspecs
from ._config import Config
from ._contracts import Contract, contract_of, satisfies
from ._errors import ContractError, PluginLoadError, TrellisError
from ._loader import Candidate, describe_exception, read_declarations, suggest
from ._markers import PROJECT_NAME
from ._monitor import Monitor
from ._records import PluginRecord

log = logging.getLogger("trellis.core")

STRICT = (
    "strict mode (TRELLIS_STRICT / TRELLIS['STRICT']) refuses to start with quarantined plugins"
)


class _Quarantine(Exception):
    """Internal: a plugin fails a load step; the message becomes its quarantine reason."""


def is_provider_hook(caller: pluggy.HookCaller) -> bool:
    """Whether a hook is a provider hook (a ``firstresult`` spec)."""
    return bool(caller.spec and caller.spec.opts.get("firstresult"))


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


class PluginRegistry:
    """Every plugin seen and every contract installed, with the pluggy manager behind them.

    :param changed: called whenever the set of active plugins changes (routing caches).
    """

    def __init__(self, config: Config, monitor: Monitor, changed: Callable[[], None]) -> None:
        self.config = config
        self.monitor = monitor
        self.changed = changed
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.records: dict[str, PluginRecord] = {}
        self.objects: dict[str, Any] = {}
        self.contracts: dict[str, Contract] = {}
        self.spec_modules: dict[str, ModuleType] = {}
        self.hook_contract: dict[str, str] = {}
        self._add_specs(core_hookspecs)

    def active(self) -> list[str]:
        """Names of the active plugins, in load order."""
        return [name for name, record in self.records.items() if record.status == "active"]

    def unregister(self, name: str) -> None:
        """Remove an active plugin; its record is dropped too."""
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.records.pop(name, None)
        self.objects.pop(name, None)
        self.changed()

    def quarantine(self, name: str, reason: str) -> PluginRecord:
        """Quarantine an active plugin after loading; see :meth:`Host.quarantine`."""
        record = self.records.get(name)
        if record is None or record.status != "active":
            raise TrellisError(
                f"no active plugin named {name!r}; active: {', '.join(self.active()) or 'none'}"
            )
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.objects.pop(name, None)
        self.changed()
        record.status = "quarantined"
        record.reason = reason
        log.warning("plugin %r quarantined: %s", name, reason)
        if self.config.strict:
            raise PluginLoadError(f"{STRICT}:\n  - {name}: {reason}")
        return record

    def load(self, candidates: Iterable[Candidate]) -> None:
        """Load a batch of candidates: every contract first, then every implementation."""
        ready: list[Candidate] = []
        claimed: dict[str, Candidate] = {}  # names taken earlier in this batch
        for candidate in candidates:
            other = self.records.get(candidate.name) or claimed.get(candidate.name)
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
                self.records[candidate.name] = self._record(candidate, "disabled", why)
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
                if contract_of(module).name not in self.spec_modules:
                    self._add_specs(module)
            with_specs.append(candidate)

        for candidate in with_specs:
            try:
                impls = self._check_impls(candidate)
                self._register(candidate, impls)
            except _Quarantine as exc:
                self._quarantine(candidate, str(exc))
        self.changed()
        if self.config.strict:
            failed = [r for r in self.records.values() if r.status == "quarantined"]
            if failed:
                lines = "\n".join(f"  - {r.name}: {r.reason}" for r in failed)
                raise PluginLoadError(f"{STRICT}:\n{lines}")

    def _check_specs(self, candidate: Candidate) -> None:
        for module in candidate.hookspecs:
            try:
                contract = contract_of(module)
            except ContractError as exc:
                raise _Quarantine(str(exc)) from None
            known = self.spec_modules.get(contract.name)
            if known is not None and known is not module:
                raise _Quarantine(
                    f"defines contract {contract.name!r} in {module.__name__!r}, but "
                    f"{known.__name__!r} already defines it"
                )
            names = [n for n in dir(module) if self.pm.parse_hookspec_opts(module, n)]
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
        self.pm.add_hookspecs(module)
        self.contracts[contract.name] = contract
        self.spec_modules[contract.name] = module
        for name in dir(module):
            if self.pm.parse_hookspec_opts(module, name):
                self.hook_contract[name] = contract.name

    def _check_impls(self, candidate: Candidate) -> dict[str, str]:
        """Check every implementation against its contract; return ``{attribute: hook}``."""
        obj = candidate.obj
        # Every declared range of an installed contract is checked, implemented or not: a
        # plugin that only calls a contract (or implements it later) still relies on it.
        for declared, declared_range in candidate.implements.items():
            installed = self.contracts.get(declared)
            if installed is not None and not satisfies(installed.version, declared_range):
                raise _Quarantine(
                    f"{candidate.label} implements contract {declared!r} "
                    f"{candidate.implements_text[declared]!r}, but the installed contract "
                    f"{declared!r} is version {installed.version}; upgrade the plugin or "
                    f"install a {declared!r} contract it supports"
                )
        impls: dict[str, str] = {}
        for attr in dir(obj):
            opts = self.pm.parse_hookimpl_opts(obj, attr)
            if opts is None:
                continue
            hook = opts.get("specname") or attr
            contract_name = self.hook_contract.get(hook)
            if contract_name is None:
                if opts.get("optionalhook"):
                    impls[attr] = hook  # kept: pluggy calls it once the contract is installed
                    continue
                raise _Quarantine(
                    f"implements {hook!r}, which no installed contract defines"
                    f"{suggest(hook, sorted(self.hook_contract))}; fix the name, install the "
                    "package that defines it, or mark it @hookimpl(optionalhook=True)"
                )
            contract = self.contracts[contract_name]
            spec_range = candidate.implements.get(contract_name)
            if spec_range is None:
                raise _Quarantine(
                    f"implements {hook!r} of contract {contract_name!r} {contract.version} but "
                    f"does not declare a range for it: add "
                    f"TRELLIS_IMPLEMENTS = {{{contract_name!r}: '>={contract.version},<"
                    f"{int(contract.version.split('.')[0]) + 1}'}}"
                )
            hookcaller = getattr(self.pm.hook, hook)
            is_wrapper = bool(opts.get("wrapper") or opts.get("hookwrapper"))
            if (
                is_provider_hook(hookcaller)
                and not is_wrapper
                and contract_name not in candidate.provides
            ):
                raise _Quarantine(
                    f"implements provider hook {hook!r} but does not name itself a provider:"
                    f" add TRELLIS_PROVIDES = {{{contract_name!r}: '<provider name>'}}"
                )
            impls[attr] = hook
        for contract_name, provider in candidate.provides.items():
            for record in self.records.values():
                if record.status == "active" and record.provides.get(contract_name) == provider:
                    raise _Quarantine(
                        f"provider name {provider!r} for contract {contract_name!r} is already "
                        f"taken by plugin {record.name!r}"
                    )
        return impls

    def _register(self, candidate: Candidate, impls: dict[str, str]) -> None:
        target = candidate.obj
        if self.monitor.enabled and impls:
            providers = {
                hook
                for hook in impls.values()
                if hook in self.hook_contract and is_provider_hook(getattr(self.pm.hook, hook))
            }
            target = _MonitoredPlugin(candidate.obj, candidate.name, impls, providers, self.monitor)
        try:
            self.pm.register(target, name=candidate.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.get_plugin(candidate.name) is target:  # never another plugin's entry
                self.pm.unregister(name=candidate.name)
            raise _Quarantine(f"pluggy refused it: {describe_exception(exc)}") from None
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:  # pragma: no cover - _check_impls is stricter
            self.pm.unregister(name=candidate.name)
            raise _Quarantine(f"pluggy refused it: {describe_exception(exc)}") from None
        record = self._record(candidate, "active", "")
        record.hooks = sorted(set(impls.values()))
        self.records[candidate.name] = record
        self.objects[candidate.name] = candidate.obj
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
        self.records[key] = record
        candidate.record_key = key
        log.warning("plugin %r quarantined: %s", key, reason)


def _safe_contract(module: ModuleType) -> Contract | None:
    try:
        return contract_of(module)
    except ContractError:
        return None
