"""The inline provider: the contract suite, plus handling at commit time in the publisher."""

from __future__ import annotations

from trellis.events import inline
from trellis.events.testing import EventsContract


class TestInlineProvider(EventsContract):
    provider = "inline"
    plugins = [inline]
