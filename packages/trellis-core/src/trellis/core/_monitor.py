"""Hook call monitoring: call counts and cumulative time per hook and per implementation.

Cheap enough to leave on: one ``perf_counter_ns`` pair and a locked add per timed call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any


@dataclass(frozen=True, slots=True)
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
        self._hooks: dict[str, list[int]] = {}
        self._impls: dict[tuple[str, str], list[int]] = {}

    def record_hook(self, hook: str, elapsed_ns: int) -> None:
        """Add one call of ``hook`` that took ``elapsed_ns``."""
        with self._lock:
            counter = self._hooks.get(hook)
            if counter is None:
                self._hooks[hook] = [1, elapsed_ns]
            else:
                counter[0] += 1
                counter[1] += elapsed_ns

    def timed(self, hook: str, plugin: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a hook implementation so each call is counted under ``(hook, plugin)``.

        The wrapper keeps the function's signature (``functools.wraps``) so pluggy still sees
        the implementation's argument names and markers.
        """
        key = (hook, plugin)
        counter = self._impls.setdefault(key, [0, 0])
        lock = self._lock

        @functools.wraps(function)
        def timed_impl(*args: Any) -> Any:
            start = perf_counter_ns()
            try:
                return function(*args)
            finally:
                elapsed = perf_counter_ns() - start
                with lock:
                    counter[0] += 1
                    counter[1] += elapsed

        return timed_impl

    def hook_stats(self) -> dict[str, CallStats]:
        """Counters per hook name, for calls made through the host."""
        with self._lock:
            return {name: CallStats(c[0], c[1]) for name, c in sorted(self._hooks.items())}

    def impl_stats(self) -> dict[tuple[str, str], CallStats]:
        """Counters per ``(hook name, plugin name)`` implementation."""
        with self._lock:
            return {key: CallStats(c[0], c[1]) for key, c in sorted(self._impls.items())}

    def reset(self) -> None:
        """Zero every counter (implementations stay wrapped)."""
        with self._lock:
            self._hooks.clear()
            for counter in self._impls.values():
                counter[0] = counter[1] = 0
