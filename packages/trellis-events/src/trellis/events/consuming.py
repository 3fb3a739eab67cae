"""Running processors through the selected provider: what ``manage.py events_consume`` calls.

Works without Django's command machinery: ``consume(["billing"], once=True)``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from trellis.core import get_host

from ._registry import select

log = logging.getLogger("trellis.events")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM or SIGINT while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def request_stop(signum: int, frame: object) -> None:
        log.info("signal %s: stopping after the current batch", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def consume(
    names: Sequence[str] | None = None,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Run the processors named (all when empty) through the selected provider.

    Until ``stop`` is set (SIGTERM/SIGINT set it when called from the main thread), or, with
    ``once``, until every event committed before the call is handled.

    :raises UnknownProcessor: a name that no plugin contributes (the known ones are listed).
    :return: the number of events handled.
    """
    chosen = select(list(names or []))
    stop = stop or threading.Event()
    host = get_host()
    with stop_on_signals(stop):
        return int(host.call("events_consume", processors=chosen, stop=stop, once=once))
