"""A plugin for the tests: topic ``shop.order`` and processors whose behaviour tests set."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from trellis.core import hookimpl
from trellis.events import Event, Processor, Topic


class ShopPlugin:
    TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2"}

    def __init__(self) -> None:
        self.seen: list[Event] = []
        self.calls: list[list[int]] = []
        self.fail: Callable[[Event], bool] = lambda event: False
        self.backoffs: list[int] = []

    def handle(self, events: Sequence[Event]) -> None:
        self.calls.append([e.id for e in events])
        for event in events:
            if self.fail(event):
                raise ValueError(f"cannot ship order {event.payload}")
        self.seen.extend(events)

    def backoff(self, attempt: int) -> float:
        self.backoffs.append(attempt)
        return 0.0

    @hookimpl
    def events_topics(self) -> Sequence[Topic]:
        return [Topic("shop.order", "An order was placed")]

    @hookimpl
    def events_processors(self) -> Sequence[Processor]:
        return [
            Processor(
                "shipping",
                ["shop.order"],
                self.handle,
                batch_size=10,
                max_attempts=3,
                retry_backoff=self.backoff,
            )
        ]
