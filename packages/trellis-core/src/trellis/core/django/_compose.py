"""Composition of installed plugins into a Django settings module and URLconf."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, MutableMapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .._composition import compose_plugins
from .._config import Config
from .._errors import TrellisError
from .._global import get_host, set_host
from .._host import Host, create_host
from .._loader import describe_exception
from .._types import UrlMount


def compose(namespace: MutableMapping[str, Any], *, plugins: Iterable[Any] = ()) -> Host:
    """Add what installed plugins contribute to a settings module's namespace.

    Call it at the end of ``settings.py`` as ``compose(globals())``. It builds the process-wide
    host from the environment, the module's ``TRELLIS_*`` settings and ``TRELLIS`` (read once:
    a change needs a restart), then appends contributed apps to
    ``INSTALLED_APPS`` and middleware to ``MIDDLEWARE`` (in plugin load order, once each) and
    fills in settings defaults the project did not set. ``plugins`` are extra plugin objects
    (modules) registered after the installed ones, for projects embedding their own.

    A plugin whose composition hooks raise or return malformed values is quarantined, like
    one that fails to load: the service starts without it, and ``/health`` and the dashboard
    say why (``trellis check`` reports the same).

    :raises ImproperlyConfigured: two plugins disagree on a default, a setting is unusable,
        or (strict mode) a plugin was quarantined.
    """
    try:
        host = create_host(Config.load(namespace.get("TRELLIS"), named=namespace), plugins=plugins)
        set_host(host)
        composition = compose_plugins(host)
    except TrellisError as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    for name, paths in (
        ("INSTALLED_APPS", composition.apps),
        ("MIDDLEWARE", composition.middleware),
    ):
        current = list(namespace.get(name, []))
        for _, path in paths:
            if path not in current:
                current.append(path)
        namespace[name] = current
    defaults: dict[str, tuple[str, Any]] = {}
    for plugin, values in composition.defaults:
        for key, value in values.items():
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
    return host


def plugin_mounts(host: Host | None = None) -> list[tuple[str, UrlMount]]:
    """``(plugin, UrlMount)`` for every active plugin whose URLconf imports cleanly.

    A plugin whose mount's URLconf fails to import is quarantined and left out.

    :raises ImproperlyConfigured: in strict mode, when a plugin is quarantined.
    """
    host = host or get_host()
    try:
        mounts = compose_plugins(host).mounts
        failed: dict[str, str] = {}
        for plugin, mount in mounts:
            if plugin in failed:
                continue
            try:
                module = importlib.import_module(mount.urlconf)
                if not hasattr(module, "urlpatterns"):
                    raise TrellisError(f"module {mount.urlconf!r} has no urlpatterns")
            except Exception as exc:
                failed[plugin] = (
                    f"failed while composing the service: URLconf {mount.urlconf!r} of mount "
                    f"{mount.prefix!r} cannot be used: {describe_exception(exc)}"
                )
        for plugin, reason in failed.items():
            host.quarantine(plugin, reason)
    except TrellisError as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    return [(plugin, mount) for plugin, mount in mounts if plugin not in failed]


def plugin_urlpatterns() -> list[Any]:
    """URL patterns for every :class:`~trellis.core.UrlMount` of the active plugins.

    Use in ``urls.py``: ``urlpatterns = [..., *plugin_urlpatterns()]``. Mounts are included
    in plugin load order, so the first plugin to claim a path serves it. A plugin whose
    mounts fail is quarantined and its URLs are not served; every other page still works.
    """
    from django.urls import include, path

    patterns: list[Any] = []
    for _, mount in plugin_mounts():
        namespace = mount.namespace
        target = (mount.urlconf, namespace) if namespace else mount.urlconf
        patterns.append(path(mount.prefix, include(target, namespace=namespace)))
    return patterns


def api_prefixes(host: Host | None = None) -> tuple[str, ...]:
    """URL path prefixes (``"/blobs/"``) of the mounts that declare ``api=True``."""
    return tuple(f"/{mount.prefix}" for _, mount in plugin_mounts(host) if mount.api)
