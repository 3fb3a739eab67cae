"""Host settings, read from a Django-style ``TRELLIS`` mapping and the environment.

The environment wins over the mapping so an operator can override a deployed settings file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._errors import ConfigurationError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_KNOWN_KEYS = {"ALLOW", "DENY", "STRICT", "MONITOR", "PROVIDERS"}


@dataclass(frozen=True)
class Config:
    """What the plugin host loads and how.

    :param allow: entry-point names to load; ``None`` loads every installed plugin.
    :param deny: entry-point names never to load (wins over ``allow``).
    :param strict: raise at start-up instead of quarantining a failing plugin.
    :param monitor: record per-hook and per-implementation call counts and timings.
    :param providers: contract name → selected provider name.
    :param sources: where each provider selection came from, for error messages.
    """

    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()
    strict: bool = False
    monitor: bool = True
    providers: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        settings: Mapping[str, object] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Config:
        """Build a config from a ``TRELLIS`` settings mapping, overridden by the environment.

        Environment variables: ``TRELLIS_PLUGINS_ALLOW`` and ``TRELLIS_PLUGINS_DENY``
        (comma-separated), ``TRELLIS_STRICT``, ``TRELLIS_MONITOR`` (booleans) and
        ``TRELLIS_<CONTRACT>_PROVIDER``.
        """
        settings = dict(settings or {})
        environ = os.environ if environ is None else environ
        unknown = set(settings) - _KNOWN_KEYS
        if unknown:
            raise ConfigurationError(
                f"unknown key(s) in the TRELLIS setting: {', '.join(sorted(unknown))}; "
                f"known keys are {', '.join(sorted(_KNOWN_KEYS))}"
            )
        allow = _names(settings.get("ALLOW"), "TRELLIS['ALLOW']")
        deny = _names(settings.get("DENY"), "TRELLIS['DENY']") or frozenset()
        if "TRELLIS_PLUGINS_ALLOW" in environ:
            allow = _split(environ["TRELLIS_PLUGINS_ALLOW"])
        if "TRELLIS_PLUGINS_DENY" in environ:
            deny = _split(environ["TRELLIS_PLUGINS_DENY"])
        strict = _bool(settings.get("STRICT", False), "TRELLIS['STRICT']")
        monitor = _bool(settings.get("MONITOR", True), "TRELLIS['MONITOR']")
        if "TRELLIS_STRICT" in environ:
            strict = _bool(environ["TRELLIS_STRICT"], "TRELLIS_STRICT")
        if "TRELLIS_MONITOR" in environ:
            monitor = _bool(environ["TRELLIS_MONITOR"], "TRELLIS_MONITOR")

        providers: dict[str, str] = {}
        sources: dict[str, str] = {}
        raw = settings.get("PROVIDERS", {})
        if not isinstance(raw, Mapping):
            raise ConfigurationError(
                f"TRELLIS['PROVIDERS'] must map contract names to provider names; found {raw!r}"
            )
        for contract, name in raw.items():
            if not isinstance(name, str) or not name:
                raise ConfigurationError(
                    f"TRELLIS['PROVIDERS'][{contract!r}] must be a provider name; found {name!r}"
                )
            providers[str(contract)] = name
            sources[str(contract)] = f"TRELLIS['PROVIDERS'][{contract!r}]"
        for key, value in environ.items():
            if key.startswith("TRELLIS_") and key.endswith("_PROVIDER") and len(key) > 17:
                contract = key[len("TRELLIS_") : -len("_PROVIDER")].lower()
                if value.strip():
                    providers[contract] = value.strip()
                    sources[contract] = key
        return cls(
            allow=allow,
            deny=deny,
            strict=strict,
            monitor=monitor,
            providers=providers,
            sources=sources,
        )

    def allows(self, name: str) -> bool:
        """Whether the plugin registered under ``name`` may be loaded."""
        if name in self.deny:
            return False
        return self.allow is None or name in self.allow


def _split(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _names(value: object, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _split(value)
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise ConfigurationError(f"{where} must be a list of plugin names; found {value!r}")


def _bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(
        f"{where} must be a boolean (1/0, true/false, yes/no, on/off); found {value!r}"
    )
