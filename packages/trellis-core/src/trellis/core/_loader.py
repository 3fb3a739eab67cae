"""Plugin candidates: where a plugin comes from and how its declarations are read and checked."""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet

from ._contracts import parse_range
from ._errors import ContractError
from ._markers import ENTRY_POINT_GROUP

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

# importlib.metadata (with the email package it parses metadata with) is imported only when
# discovery runs, so its cost shows up as discovery cost and `import trellis.core` stays light.

DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (("core", "trellis.core._builtin"),)
"""Built-in plugins, registered by the host factory exactly like installed ones."""


@dataclass
class Candidate:
    """A plugin about to be loaded: its name, how to import it and its distribution."""

    name: str
    module: str
    load: Callable[[], Any]
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    obj: Any = None
    implements: dict[str, SpecifierSet] = field(default_factory=dict)
    implements_text: dict[str, str] = field(default_factory=dict)
    provides: dict[str, str] = field(default_factory=dict)
    hookspecs: tuple[ModuleType, ...] = ()
    record_key: str = ""

    @property
    def label(self) -> str:
        """How messages name the plugin: ``'blobs' (trellis-blobs 1.2.0)``."""
        if self.distribution:
            return f"plugin {self.name!r} ({self.distribution} {self.version or '?'})"
        return f"plugin {self.name!r}"


@functools.cache
def installed_entry_points() -> tuple[EntryPoint, ...]:
    """Entry points of group ``trellis``, scanned once per process and sorted by name."""
    from importlib.metadata import entry_points

    found = entry_points(group=ENTRY_POINT_GROUP)
    return tuple(sorted(found, key=lambda ep: (ep.name, ep.value)))


def from_entry_point(ep: EntryPoint) -> Candidate:
    """A candidate for an installed plugin."""
    dist = ep.dist
    return Candidate(
        name=ep.name,
        module=ep.value,
        load=ep.load,
        distribution=dist.metadata["Name"] if dist is not None else None,
        version=dist.version if dist is not None else None,
    )


def from_object(obj: Any, name: str | None = None, *, builtin: bool = False) -> Candidate:
    """A candidate for a plugin object (usually a module) handed over in-process."""
    module = getattr(obj, "__name__", None) or type(obj).__qualname__
    dist, version = _distribution_of(module)
    return Candidate(
        name=name or module.rsplit(".", 1)[-1],
        module=module,
        load=lambda: obj,
        distribution=dist,
        version=version,
        builtin=builtin,
    )


def builtin(name: str, module: str) -> Candidate:
    """A candidate for one of :data:`DEFAULT_PLUGINS` (all shipped by trellis-core)."""
    from ._version import __version__

    dist, version = "trellis-core", __version__

    def load() -> Any:
        return importlib.import_module(module)

    return Candidate(name, module, load, dist, version, builtin=True)


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


@functools.cache
def _packages_distributions() -> Mapping[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def _distribution_of(module: str) -> tuple[str | None, str | None]:
    top = module.split(".")[0]
    parts = module.split(".")
    names = _packages_distributions().get(top, [])
    # A namespace package (``trellis``) maps to many distributions: pick by module path.
    for dist_name in names:
        expected = "-".join(parts[:2]).replace("_", "-")
        if len(names) == 1 or dist_name.lower() == expected.lower():
            return dist_name, _version(dist_name)
    return None, None


def read_declarations(candidate: Candidate) -> None:
    """Read ``TRELLIS_IMPLEMENTS``, ``TRELLIS_PROVIDES`` and ``TRELLIS_HOOKSPECS``.

    :raises ContractError: naming the declaration that is malformed.
    """
    obj = candidate.obj
    implements = getattr(obj, "TRELLIS_IMPLEMENTS", {})
    provides = getattr(obj, "TRELLIS_PROVIDES", {})
    hookspecs = getattr(obj, "TRELLIS_HOOKSPECS", ())
    if not isinstance(implements, Mapping):
        raise ContractError(
            "TRELLIS_IMPLEMENTS must map contract names to version ranges, "
            f"e.g. {{'core': '>=1.0,<2'}}; found {implements!r}"
        )
    for contract, text in implements.items():
        candidate.implements[contract] = parse_range(contract, text)
        candidate.implements_text[contract] = text
    if not isinstance(provides, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in provides.items()
    ):
        raise ContractError(
            "TRELLIS_PROVIDES must map contract names to provider names, "
            f"e.g. {{'blobs': 'filesystem'}}; found {provides!r}"
        )
    candidate.provides = dict(provides)
    if isinstance(hookspecs, ModuleType):
        hookspecs = (hookspecs,)
    if not isinstance(hookspecs, (list, tuple)) or not all(
        isinstance(m, ModuleType) for m in hookspecs
    ):
        raise ContractError(
            f"TRELLIS_HOOKSPECS must be a list of hookspec modules; found {hookspecs!r}"
        )
    candidate.hookspecs = tuple(hookspecs)


def suggest(name: str, known: list[str]) -> str:
    """``" (did you mean 'filesystem'?)"`` when a known (hook or provider) name is close.

    Case is ignored: ``S3`` suggests ``s3``.
    """
    folded = {k.casefold(): k for k in known}
    # 0.75 still catches one stray character in a two-letter provider name ("s33" scores 0.8
    # against "s3") but not a different two-letter name ("s4" scores 0.5).
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.75)
    return f" (did you mean {folded[close[0]]!r}?)" if close else ""


def describe_exception(exc: BaseException) -> str:
    """``ImportError: No module named 'x'`` — type and message on one line, no traceback."""
    message = " ".join(str(exc).split())
    if len(message) > 500:
        message = message[:497] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
