"""What plugins contribute: declared topics and processors, collected from the host."""

from __future__ import annotations

import logging

from trellis.core import Host, get_host

from ._errors import EventsError, UnknownProcessor
from ._types import Processor, Topic

log = logging.getLogger("trellis.events")


def topics(host: Host | None = None) -> dict[str, Topic]:
    """Every topic declared through ``events_topics``, by name (the first declaration wins).

    A plugin whose hook raises or returns something else declares nothing (its topics are
    unknown to ``publish``); :func:`topic_problems` names it for the system checks.
    """
    found: dict[str, Topic] = {}
    for _plugin, contributed in _declarations(host or get_host()):
        for topic in contributed:
            found.setdefault(topic.name, topic)
    return found


def topic_problems(host: Host | None = None) -> list[str]:
    """What is wrong with each plugin's ``events_topics`` (shown by ``manage.py check``)."""
    problems = []
    for plugin, contributed in (host or get_host()).collect_by_plugin(
        "events_topics", return_exceptions=True
    ):
        problem = _problem(contributed)
        if problem:
            problems.append(f"plugin {plugin!r}: events_topics() {problem}")
    return problems


def _declarations(host: Host) -> list[tuple[str, list[Topic]]]:
    good = []
    for plugin, contributed in host.collect_by_plugin("events_topics", return_exceptions=True):
        problem = _problem(contributed)
        if problem:
            log.error("plugin %r: events_topics() %s; its topics are not declared", plugin, problem)
            continue
        good.append((plugin, list(contributed)))
    return good


def _problem(contributed: object) -> str:
    if isinstance(contributed, Exception):
        return f"failed: {type(contributed).__name__}: {contributed}"
    try:
        bad = [t for t in contributed if not isinstance(t, Topic)]  # type: ignore[attr-defined]
    except TypeError:
        return f"must return a sequence of trellis.events.Topic objects, got {contributed!r}"
    if bad:
        return f"must return trellis.events.Topic objects, got {bad[0]!r}"
    return ""


def processors(host: Host | None = None) -> dict[str, Processor]:
    """Every processor contributed through ``events_processors``, by name.

    :raises EventsError: two processors share a name, or one handles an undeclared topic.
    """
    host = host or get_host()
    declared = topics(host)
    found: dict[str, Processor] = {}
    for plugin, contributed in host.collect_by_plugin("events_processors"):
        for processor in contributed:
            if not isinstance(processor, Processor):
                raise EventsError(
                    f"plugin {plugin!r}: events_processors() must return "
                    f"trellis.events.Processor objects, got {processor!r}"
                )
            if processor.name in found:
                raise EventsError(
                    f"plugin {plugin!r} contributes a second processor named {processor.name!r}; "
                    "processor names must be unique (they key checkpoints and dead letters)"
                )
            unknown = sorted(set(processor.topics) - set(declared))
            if unknown:
                raise EventsError(
                    f"plugin {plugin!r}: processor {processor.name!r} handles undeclared "
                    f"topic(s) {', '.join(map(repr, unknown))}; declared topics: "
                    f"{', '.join(sorted(declared)) or 'none'}"
                )
            found[processor.name] = processor
    return found


def select(names: list[str] | None = None, host: Host | None = None) -> list[Processor]:
    """The processors named (all when ``names`` is empty or ``None``), sorted by name.

    :raises UnknownProcessor: a name no plugin contributes, listing the known ones.
    """
    known = processors(host)
    if not names:
        return [known[name] for name in sorted(known)]
    for name in names:
        if name not in known:
            raise UnknownProcessor(name, known)
    return [known[name] for name in sorted(set(names))]
