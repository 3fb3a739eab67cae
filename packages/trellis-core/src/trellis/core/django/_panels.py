"""Plugin panels of the staff dashboard: each plugin's tables, or the error that replaced one."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._host import Host
from .._loader import describe_exception
from .._types import DashboardPanel, Link


@dataclass(frozen=True)
class Cell:
    """One rendered cell: its text, and the link target when the plugin gave a :class:`Link`."""

    text: str
    href: str = ""


@dataclass
class RenderedPanel:
    """A panel as the template shows it: cells already turned into text (and links)."""

    name: str
    title: str
    plugin: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    empty: str = ""
    error: str = ""


def render_panels(host: Host) -> list[RenderedPanel]:
    """Every active plugin's panels, in plugin load order; failures become error panels.

    A plugin whose ``core_dashboard_panels`` raises or returns something else than panels, and
    a panel whose ``rows()`` raises, each show the error (the dashboard is for staff) while
    every other panel still renders.
    """
    if not host.has_hook("core_dashboard_panels"):
        return []
    rendered: list[RenderedPanel] = []
    seen: set[str] = set()
    contributed = host.collect_by_plugin("core_dashboard_panels", return_exceptions=True)
    for plugin, panels in contributed:
        try:
            if isinstance(panels, Exception):
                raise panels
            panels = list(panels)
            bad = [p for p in panels if not isinstance(p, DashboardPanel)]
            if bad:
                raise TypeError(f"expected DashboardPanel objects, got {bad[0]!r}")
        except Exception as exc:
            rendered.append(
                RenderedPanel(
                    name=f"plugin-{plugin}",
                    title=f"Plugin {plugin}",
                    plugin=plugin,
                    error=f"core_dashboard_panels failed: {describe_exception(exc)}",
                )
            )
            continue
        for panel in panels:
            name = panel.name if panel.name not in seen else f"{panel.name}-{plugin}"
            seen.add(name)
            rendered.append(_render(plugin, panel, name))
    return rendered


def _render(plugin: str, panel: DashboardPanel, name: str) -> RenderedPanel:
    shown = RenderedPanel(
        name=name, title=panel.title, plugin=plugin, columns=list(panel.columns), empty=panel.empty
    )
    try:
        shown.rows = [[_cell(cell) for cell in row] for row in panel.rows()]
    except Exception as exc:
        shown.error = f"could not be read: {describe_exception(exc)}"
    return shown


def _cell(value: object) -> Cell:
    if isinstance(value, Link):
        return Cell(value.text, value.href)
    return Cell("" if value is None else str(value))
