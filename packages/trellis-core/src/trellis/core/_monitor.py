"""Hook call monitoring: call counts and cumulative time per hook and per implementation.

Cheap enough to leave on: one ``perf_counter_ns`` pair and two in-place additions per timed
call. Counters are plain two-item lists updated without a lock (CPython's GIL does not switch
threads inside those additions); the lock only guards creating counters and taking snapshots.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

Counter = list[int]
"""``[calls, total_ns]``, updated in place."""


@dataclass(frozen=True)
class CallStats:
    """A snapshot of one counter: how often something ran and for how long in total."""

    calls: int
    total_ns: int

    @property
    def mean_us(self) -> float:
        """Mean duration of one call in microseconds (0 when never called)."""
        return self.total_ns / self.calls / 1000 if self.calls else 0.0


class Monitor:
    """Collects counters; read them with :meth:`hook_stats` and :meth:`impl_stats`."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._hooks: dict[str, Counter] = {}
        self._impls: dict[tuple[str, str], Counter] = {}

    def hook_counter(self, hook: str) -> Counter:
        """The live counter of calls made to ``hook`` through the host."""
        counter = self._hooks.get(hook)
        if counter is None:
            with self._lock:
                counter = self._hooks.setdefault(hook, [0, 0])
        return counter

    def impl_counter(self, hook: str, plugin: str) -> Counter:
        """The live counter of calls to ``plugin``'s implementation of ``hook``."""
        key = (hook, plugin)
        counter = self._impls.get(key)
        if counter is None:
            with self._lock:
                counter = self._impls.setdefault(key, [0, 0])
        return counter

    def record_hook(self, hook: str, elapsed_ns: int) -> None:
        """Add one call of ``hook`` that took ``elapsed_ns``."""
        counter = self.hook_counter(hook)
        counter[0] += 1
        counter[1] += elapsed_ns

    def timed(self, hook: str, plugin: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a hook implementation so each call is counted under ``(hook, plugin)``.

        The wrapper keeps the function's signature (``functools.wraps``) so pluggy still sees
        the implementation's argument names and markers.
        """
        counter = self.impl_counter(hook, plugin)

        @functools.wraps(function)
        def timed_impl(*args: Any) -> Any:
            start = perf_counter_ns()
            try:
                return function(*args)
            finally:
                elapsed = perf_counter_ns() - start  # the call happens before the additions
                counter[1] += elapsed
                counter[0] += 1

        return timed_impl

    def hook_stats(self) -> dict[str, CallStats]:
        """Counters per hook name, for calls made through the host (never-called ones omitted)."""
        with self._lock:
            items = sorted(self._hooks.items())
        return {name: CallStats(c[0], c[1]) for name, c in items if c[0]}

    def impl_stats(self) -> dict[tuple[str, str], CallStats]:
        """Counters per ``(hook name, plugin name)`` implementation."""
        with self._lock:
            items = sorted(self._impls.items())
        return {key: CallStats(c[0], c[1]) for key, c in items}

    def reset(self) -> None:
        """Zero every counter in place (cached counters stay valid)."""
        with self._lock:
            for counter in (*self._hooks.values(), *self._impls.values()):
                counter[0] = counter[1] = 0
