"""Read-only descriptions of loaded plugins and hooks, for the CLI, the dashboard and tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

PluginStatus = Literal["active", "quarantined", "disabled"]


@dataclass
class PluginRecord:
    """One plugin the host saw, whatever became of it.

    ``status`` is ``active`` (registered), ``quarantined`` (failed to import, register,
    validate or pass its contract check; ``reason`` says why) or ``disabled`` (skipped by the
    allow/deny settings).
    """

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    status: PluginStatus = "active"
    reason: str = ""
    implements: dict[str, str] = field(default_factory=dict)
    defines: dict[str, str] = field(default_factory=dict)
    provides: dict[str, str] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (what ``trellis plugins --json`` prints)."""
        return asdict(self)


@dataclass(frozen=True)
class Implementer:
    """One implementation of a hook, with its monitoring counters."""

    plugin: str
    function: str
    wrapper: bool
    tryfirst: bool
    trylast: bool
    calls: int
    total_ns: int
    selected: bool | None = None


@dataclass(frozen=True)
class HookInfo:
    """One hook specification and who implements it, in call order."""

    name: str
    contract: str
    contract_version: str
    kind: Literal["provider", "extension"]
    signature: str
    summary: str
    implementers: tuple[Implementer, ...]
    calls: int
    total_ns: int

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (what ``trellis hooks --json`` prints)."""
        return asdict(self)
