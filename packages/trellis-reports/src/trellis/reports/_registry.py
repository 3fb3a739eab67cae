"""What plugins contribute: sources of raw records, and who may view a domain's reports."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from trellis.core import Host, get_host

from ._types import Source

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

log = logging.getLogger("trellis.reports")


def _problem(contributed: object) -> str:
    if isinstance(contributed, Exception):
        return f"failed: {type(contributed).__name__}: {contributed}"
    try:
        bad = [s for s in contributed if not isinstance(s, Source)]  # type: ignore[attr-defined]
    except TypeError:
        return f"must return a sequence of trellis.reports.Source objects, got {contributed!r:.80}"
    if bad:
        return f"must return trellis.reports.Source objects, got {bad[0]!r:.80}"
    return ""


def _contributions(host: Host) -> list[tuple[str, Any]]:
    if not host.has_hook("reports_sources"):
        return []
    return host.collect_by_plugin("reports_sources", return_exceptions=True)


def sources(host: Host | None = None) -> dict[str, Source]:
    """Every :class:`Source` the plugins give (hook ``reports_sources``), by topic.

    The first source of a topic (in plugin load order) wins. A plugin whose hook raises or
    returns something else gives none (logged; ``manage.py check`` names it).
    """
    found: dict[str, Source] = {}
    for plugin, contributed in _contributions(host or get_host()):
        problem = _problem(contributed)
        if problem:
            log.error("plugin %r: reports_sources() %s; its sources are ignored", plugin, problem)
            continue
        for source in contributed:
            found.setdefault(source.topic, source)
    return found


def source_problems(host: Host | None = None) -> list[str]:
    """What is wrong with each plugin's ``reports_sources`` (for ``manage.py check``)."""
    host = host or get_host()
    problems = []
    for plugin, contributed in _contributions(host):
        problem = _problem(contributed)
        if problem:
            problems.append(f"plugin {plugin!r}: reports_sources() {problem}")
    return problems


def can_view(user: AbstractBaseUser | AnonymousUser, domain: str, host: Host | None = None) -> bool:
    """Whether ``user`` may view the reports of ``domain``.

    Anonymous and inactive users may not; active staff always may. Otherwise the plugins'
    ``reports_can_view`` answers decide: any ``False`` denies, at least one ``True`` is
    needed, and an implementation that raises denies (logged with its plugin's name).
    """
    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_staff", False):
        return True
    host = host or get_host()
    if not host.has_hook("reports_can_view"):
        return False
    allowed = False
    for plugin, answer in host.collect_by_plugin(
        "reports_can_view", return_exceptions=True, user=user, domain=domain
    ):
        if isinstance(answer, Exception):
            log.error(
                "plugin %r failed in reports_can_view for domain %r; access denied",
                plugin,
                domain,
                exc_info=answer,
            )
            return False
        if answer is False:
            return False
        allowed = allowed or answer is True
    return allowed
