"""Composition of installed plugins into a Django settings module and URLconf."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .._config import Config
from .._errors import TrellisError
from .._global import get_host, set_host
from .._host import Host, create_host
from .._types import UrlMount


def compose(namespace: MutableMapping[str, Any], *, plugins: Iterable[Any] = ()) -> Host:
    """Add what installed plugins contribute to a settings module's namespace.

    Call it at the end of ``settings.py`` as ``compose(globals())``. It builds the process-wide
    host from ``TRELLIS`` and the environment, then appends contributed apps to
    ``INSTALLED_APPS`` and middleware to ``MIDDLEWARE`` (in plugin load order, once each) and
    fills in settings defaults the project did not set. ``plugins`` are extra plugin objects
    (modules) registered after the installed ones, for projects embedding their own.

    :raises ImproperlyConfigured: a plugin contributed a malformed value, two plugins disagree
        on a default, or (strict mode) a plugin was quarantined.
    """
    try:
        host = create_host(Config.load(namespace.get("TRELLIS")), plugins=plugins)
        set_host(host)
        namespace["INSTALLED_APPS"] = _extend(
            host, "core_django_apps", list(namespace.get("INSTALLED_APPS", []))
        )
        namespace["MIDDLEWARE"] = _extend(
            host, "core_django_middleware", list(namespace.get("MIDDLEWARE", []))
        )
        defaults: dict[str, tuple[str, Any]] = {}
        for plugin, values in host.collect_by_plugin("core_settings_defaults"):
            if not isinstance(values, Mapping):
                raise ImproperlyConfigured(
                    f"plugin {plugin!r} returned {values!r} from core_settings_defaults; "
                    "expected a mapping of setting names to default values"
                )
            for key, value in values.items():
                if not key.isupper():
                    raise ImproperlyConfigured(
                        f"plugin {plugin!r} gives a default for {key!r}; "
                        "Django setting names are upper case"
                    )
                if key in namespace:
                    continue  # the project's own value wins; no conflict to report
                if key in defaults and defaults[key][1] != value:
                    raise ImproperlyConfigured(
                        f"plugins {defaults[key][0]!r} and {plugin!r} give different defaults "
                        f"for {key}: {defaults[key][1]!r} vs {value!r}; set {key} in the "
                        "project's settings to choose"
                    )
                defaults.setdefault(key, (plugin, value))
        for key, (_, value) in defaults.items():
            namespace.setdefault(key, value)
    except TrellisError as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    return host


def _extend(host: Host, hook: str, current: list[str]) -> list[str]:
    for plugin, values in host.collect_by_plugin(hook):
        if isinstance(values, str):
            raise ImproperlyConfigured(
                f"plugin {plugin!r} returned the string {values!r} from {hook}; "
                "return a list of dotted paths"
            )
        for value in values:
            if not isinstance(value, str) or not value:
                raise ImproperlyConfigured(
                    f"plugin {plugin!r} returned {value!r} from {hook}; expected dotted paths"
                )
            if value not in current:
                current.append(value)
    return current


def plugin_urlpatterns() -> list[Any]:
    """URL patterns for every :class:`~trellis.core.UrlMount` of the active plugins.

    Use in ``urls.py``: ``urlpatterns = [..., *plugin_urlpatterns()]``. Mounts are included
    in plugin load order, so the first plugin to claim a path serves it.
    """
    from django.urls import include, path

    patterns: list[Any] = []
    try:
        contributions = get_host().collect_by_plugin("core_url_mounts")
    except TrellisError as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    for plugin, mounts in contributions:
        for mount in mounts:
            if not isinstance(mount, UrlMount):
                raise ImproperlyConfigured(
                    f"plugin {plugin!r} returned {mount!r} from core_url_mounts; "
                    "expected trellis.core.UrlMount"
                )
            namespace = mount.namespace
            target = (mount.urlconf, namespace) if namespace else mount.urlconf
            patterns.append(path(mount.prefix, include(target, namespace=namespace)))
    return patterns
