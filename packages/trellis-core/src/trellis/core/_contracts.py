"""Versioned contracts: hookspec modules declare one, plugins the ranges they implement."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ._errors import ContractError

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


@dataclass(frozen=True)
class Contract:
    """The versioned interface defined by one hookspec module.

    :param name: contract name, also the prefix of every hook in it (``blobs`` → ``blobs_put``).
    :param version: semantic version ``MAJOR.MINOR.PATCH``; a change that breaks callers or
        implementers bumps MAJOR.
    :param default_provider: provider used for the contract's provider hooks when no selection
        is configured; ``None`` means the operator must choose.
    :param description: one line shown by ``trellis hooks`` and the dashboard.
    """

    name: str
    version: str
    default_provider: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ContractError(
                f"contract name {self.name!r} is invalid: use lower-case letters, digits and "
                "underscores, starting with a letter (it prefixes every hook name)"
            )
        if not isinstance(self.version, str) or not _SEMVER.fullmatch(self.version):
            raise ContractError(
                f"contract {self.name!r} has version {self.version!r}; "
                "use a semantic version MAJOR.MINOR.PATCH such as '1.0.0'"
            )

    @property
    def env_var(self) -> str:
        """The environment variable that selects this contract's provider."""
        return f"TRELLIS_{self.name.upper()}_PROVIDER"


def contract_of(module: ModuleType) -> Contract:
    """Return the :class:`Contract` a hookspec module declares as ``CONTRACT``."""
    value = getattr(module, "CONTRACT", None)
    if not isinstance(value, Contract):
        raise ContractError(
            f"hookspec module {module.__name__!r} must declare CONTRACT = Contract(name, version); "
            f"found {type(value).__name__}"
        )
    return value


def parse_range(contract: str, spec: str) -> SpecifierSet:
    """Parse a plugin's declared range for ``contract`` (PEP 440 specifiers, e.g. ``>=1.2,<2``)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ContractError(
            f"range for contract {contract!r} must be a non-empty string such as '>=1.0,<2'; "
            f"found {spec!r}"
        )
    try:
        return SpecifierSet(spec)
    except InvalidSpecifier as exc:
        raise ContractError(
            f"range {spec!r} for contract {contract!r} is not a valid version range "
            f"(use PEP 440 specifiers such as '>=1.0,<2'): {exc}"
        ) from None


def satisfies(version: str, spec: SpecifierSet) -> bool:
    """Whether a contract version lies inside a declared range (pre-releases included)."""
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:  # pragma: no cover - Contract validates its version
        return False
