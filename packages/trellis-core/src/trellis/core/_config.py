"""Host settings: the environment, then Django settings of the same name, then ``TRELLIS``.

The environment wins so an operator can override a deployed settings file. Host settings are
read once, when the host is built (at ``compose()`` or on first use); a change needs a restart.
"""

from __future__ import annotations

import os
import re
import sys
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
        *,
        named: Mapping[str, object] | None = None,
    ) -> Config:
        """Build a config by the settings rule: environment, Django setting, ``TRELLIS`` key.

        Each value is taken from the first of: the environment variable (``TRELLIS_STRICT``,
        ``TRELLIS_PLUGINS_ALLOW``, ``TRELLIS_<CONTRACT>_PROVIDER``...), the Django setting of
        the same name (``named``: the settings module's names, e.g. ``globals()`` in
        ``settings.py``), the matching key of the ``TRELLIS`` dict (``settings``), the default.

        :param settings: the ``TRELLIS`` dict.
        :param environ: the environment; ``os.environ`` by default.
        :param named: top-level settings; only names starting with ``TRELLIS_`` are read.
        """
        settings = dict(settings or {})
        environ = os.environ if environ is None else environ
        named = {k: v for k, v in (named or {}).items() if k.startswith("TRELLIS_")}
        unknown = set(settings) - _KNOWN_KEYS
        if unknown:
            raise ConfigurationError(
                f"unknown key(s) in the TRELLIS setting: {', '.join(sorted(unknown))}; "
                f"known keys are {', '.join(sorted(_KNOWN_KEYS))}"
            )

        def layered(name: str, key: str, default: object) -> tuple[object, str]:
            if name in environ:
                return environ[name], name
            if named.get(name) is not None:
                return named[name], f"settings.{name}"
            if key in settings:
                return settings[key], f"TRELLIS[{key!r}]"
            return default, name

        allow = _names(*layered("TRELLIS_PLUGINS_ALLOW", "ALLOW", None))
        deny = _names(*layered("TRELLIS_PLUGINS_DENY", "DENY", None)) or frozenset()
        strict = _bool(*layered("TRELLIS_STRICT", "STRICT", False))
        monitor = _bool(*layered("TRELLIS_MONITOR", "MONITOR", True))

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
        for layer, prefix in ((named, "settings."), (environ, "")):
            for key, value in layer.items():
                contract = _provider_contract(key)
                if contract is None or value is None:
                    continue
                if not isinstance(value, str):
                    raise ConfigurationError(
                        f"{prefix}{key} must be a provider name; found {value!r}"
                    )
                if value.strip():  # blank counts as unset, as for every name-valued setting
                    providers[contract] = value.strip()
                    sources[contract] = f"{prefix}{key}"
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


def read_setting(name: str, *, environ: Mapping[str, str] | None = None) -> object | None:
    """A ``TRELLIS_*`` setting read now, by the one settings rule; ``None`` when unset.

    The environment variable ``name`` (stripped), else the Django setting of the same name
    when Django is configured in this process (so it works in scripts without a project),
    else ``None``. A blank value counts as unset in either place. Subsystems read their own
    settings (``TRELLIS_BLOBS_ROOT``...) with it on every use, so a changed variable or
    ``override_settings`` applies at once; the host settings of :meth:`Config.load` are read
    once per process instead.
    """
    env = os.environ if environ is None else environ
    value: object | None = env.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if "django.conf" in sys.modules:
        from django.conf import settings

        if settings.configured:
            value = getattr(settings, name, None)
            if isinstance(value, str):
                return value.strip() or None
            return value
    return None


# ASCII: under Unicode case folding, "k" would also match the Kelvin sign and "i" the dotted I.
_SIZE = re.compile(r"[ \t]*([0-9]+)[ \t]*(|b|k|kb|kib|m|mb|mib|g|gb|gib)[ \t]*", re.I | re.ASCII)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def read_size_setting(name: str, default: int) -> int:
    """A positive byte count read with :func:`read_setting`: an int, or a string such as
    ``"10MiB"`` (units k, m, g in powers of 1024; ``KB`` is the same as ``KiB``);
    ``default`` when unset.

    :raises ConfigurationError: zero, negative or not a size; the message names the setting
        and the value seen.
    """
    value = read_setting(name)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0:
        raise ConfigurationError(
            f"{name} must be a positive number of bytes, optionally with a unit such as "
            f"'10MiB'; found {value!r}"
        )
    return int(match[1]) * _UNITS[match[2][:1].lower()]


def _provider_contract(key: str) -> str | None:
    """``"blobs"`` for ``TRELLIS_BLOBS_PROVIDER``; ``None`` for any other name."""
    if key.startswith("TRELLIS_") and key.endswith("_PROVIDER") and len(key) > 17:
        return key[len("TRELLIS_") : -len("_PROVIDER")].lower()
    return None


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
