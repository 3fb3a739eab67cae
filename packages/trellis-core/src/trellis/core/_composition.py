"""What the composition hooks contribute, with every failing plugin quarantined.

Django-free, so ``trellis check`` runs exactly what the composed service runs: a plugin whose
``core_django_apps``, ``core_django_middleware``, ``core_settings_defaults`` or
``core_url_mounts`` raises or returns something malformed is quarantined (the service stays
up, ``/health`` warns, the dashboard says why), and none of its contributions are used. In
strict mode the quarantine raises instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._loader import describe_exception
from ._types import UrlMount

if TYPE_CHECKING:
    from ._host import Host


class _Malformed(Exception):
    """Internal: a contribution does not have the shape its hook documents."""


@dataclass
class Composition:
    """Contributions of the plugins that composed cleanly, in plugin load order.

    :param apps: ``(plugin, dotted path)`` for ``INSTALLED_APPS``.
    :param middleware: ``(plugin, dotted path)`` for ``MIDDLEWARE``.
    :param defaults: ``(plugin, {setting: default})``.
    :param mounts: ``(plugin, UrlMount)``.
    """

    apps: list[tuple[str, str]] = field(default_factory=list)
    middleware: list[tuple[str, str]] = field(default_factory=list)
    defaults: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    mounts: list[tuple[str, UrlMount]] = field(default_factory=list)


def _paths(value: Any) -> list[str]:
    if isinstance(value, (str, bytes)) or not _iterable(value):
        raise _Malformed(f"returned {value!r}; expected a list of dotted paths")
    paths = list(value)
    for path in paths:
        if (
            not isinstance(path, str)
            or not path
            or not all(p.isidentifier() for p in path.split("."))
        ):
            raise _Malformed(f"returned {path!r} in its list; expected dotted paths")
    return paths


def _defaults(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise _Malformed(f"returned {value!r}; expected a mapping of setting names to defaults")
    for key in value:
        if not isinstance(key, str) or not key.isupper():
            raise _Malformed(f"gives a default for {key!r}; Django setting names are upper case")
    return [value]


def _mounts(value: Any) -> list[UrlMount]:
    if isinstance(value, (str, bytes, UrlMount)) or not _iterable(value):
        raise _Malformed(f"returned {value!r}; expected a list of trellis.core.UrlMount")
    mounts = list(value)
    for mount in mounts:
        if not isinstance(mount, UrlMount):
            raise _Malformed(f"returned {mount!r} in its list; expected trellis.core.UrlMount")
    return mounts


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return not isinstance(value, Mapping)


_HOOKS: tuple[tuple[str, Callable[[Any], list[Any]]], ...] = (
    ("core_django_apps", _paths),
    ("core_django_middleware", _paths),
    ("core_settings_defaults", _defaults),
    ("core_url_mounts", _mounts),
)


def compose_plugins(host: Host) -> Composition:
    """Call every composition hook on every active plugin; quarantine the ones that fail.

    A plugin is judged on all four hooks before anything of it is used, so one that returns
    good apps but a bad mount contributes nothing (no app without its URLs, no half plugin).

    :raises PluginLoadError: in strict mode, when a plugin fails.
    """
    contributed: dict[str, dict[str, list[Any]]] = {}
    failures: dict[str, str] = {}
    for hook, check in _HOOKS:
        for plugin, value in host.collect_by_plugin(hook, return_exceptions=True):
            if plugin in failures:
                continue
            try:
                if isinstance(value, Exception):
                    raise value
                items = check(value)
            except _Malformed as exc:
                failures[plugin] = f"{hook} {exc}"
            except Exception as exc:
                failures[plugin] = f"{hook} raised {describe_exception(exc)}"
            else:
                contributed.setdefault(plugin, {}).setdefault(hook, []).extend(items)
    composition = Composition()
    for plugin, reason in failures.items():
        host.quarantine(plugin, f"failed while composing the service: {reason}")
    for record in host.plugins():  # load order
        hooks = contributed.get(record.name)
        if hooks is None or record.name in failures:
            continue
        composition.apps += [(record.name, p) for p in hooks.get("core_django_apps", [])]
        composition.middleware += [
            (record.name, p) for p in hooks.get("core_django_middleware", [])
        ]
        composition.defaults += [(record.name, d) for d in hooks.get("core_settings_defaults", [])]
        composition.mounts += [(record.name, m) for m in hooks.get("core_url_mounts", [])]
    return composition
