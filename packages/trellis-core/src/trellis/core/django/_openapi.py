"""The service's OpenAPI document: every plugin's ``core_openapi`` part, merged."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .._host import Host
from .._loader import describe_exception
from .._version import __version__

log = logging.getLogger("trellis.core.openapi")

OPENAPI_VERSION = "3.1.0"


def openapi_document(host: Host, *, title: str = "Trellis") -> dict[str, Any]:
    """Merge the active plugins' parts (hook ``core_openapi``) into one OpenAPI 3.1 document.

    Plugins are merged in load order; a path or component an earlier plugin gave wins, and the
    clash is recorded under ``x-trellis-conflicts``. A plugin whose hook raises or returns
    something that is not a mapping of mappings is left out and named under
    ``x-trellis-errors``, so one broken plugin never hides the others' APIs.
    """
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": __version__},
        "paths": {},
        "components": {},
    }
    conflicts: list[str] = []
    errors: dict[str, str] = {}
    if not host.has_hook("core_openapi"):
        return document
    for plugin, part in host.collect_by_plugin("core_openapi", return_exceptions=True):
        try:
            if isinstance(part, Exception):
                raise part
            paths, components = _checked(part)
        except Exception as exc:
            errors[plugin] = describe_exception(exc)
            log.warning("plugin %r: core_openapi left out: %s", plugin, errors[plugin])
            continue
        for path, item in paths.items():
            if path in document["paths"]:
                conflicts.append(f"path {path!r} from plugin {plugin!r}")
                continue
            document["paths"][path] = item
        for kind, entries in components.items():
            section = document["components"].setdefault(kind, {})
            for name, value in entries.items():
                if name in section and section[name] != value:
                    conflicts.append(f"components.{kind}.{name} from plugin {plugin!r}")
                    continue
                section[name] = value
    if conflicts:
        log.warning("core_openapi: kept the first of clashing entries: %s", "; ".join(conflicts))
        document["x-trellis-conflicts"] = conflicts
    if errors:
        document["x-trellis-errors"] = errors
    return document


def _checked(part: object) -> tuple[Mapping[str, Any], Mapping[str, Mapping[str, Any]]]:
    if not isinstance(part, Mapping):
        raise TypeError(f"expected a mapping with 'paths', got {type(part).__name__}")
    unknown = set(part) - {"paths", "components"}
    if unknown:
        raise ValueError(f"unexpected top-level keys {sorted(unknown)}: give paths, components")
    paths = part.get("paths", {})
    components = part.get("components", {})
    if not isinstance(paths, Mapping) or not all(
        isinstance(p, str) and p.startswith("/") and isinstance(v, Mapping)
        for p, v in paths.items()
    ):
        raise TypeError("'paths' must map absolute paths ('/...') to path item objects")
    if not isinstance(components, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Mapping) for k, v in components.items()
    ):
        raise TypeError("'components' must map component kinds to mappings")
    return paths, components
