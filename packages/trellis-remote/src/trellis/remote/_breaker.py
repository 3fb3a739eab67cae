"""A circuit breaker that never holds its lock while a call is made.

``closed``: calls go through; ``failures`` failures in a row open it. ``open``: calls fail at
once, without touching the network, for ``reset`` seconds. Then ``half-open``: one trial call
goes through (the others still fail fast); its success closes the circuit, its failure opens
it again. The lock guards only the state (a few attribute reads and writes), so callers never
wait on each other's I/O. (pybreaker 1.4 holds its lock across the guarded call, which
serialises every call of a process: see ADR 0008.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Literal

State = Literal["closed", "open", "half-open"]


@dataclass(frozen=True)
class Snapshot:
    state: State
    failures: int
    opened_at: float | None
    last_error: str


class CircuitBreaker:
    def __init__(self, *, failures: int, reset: float) -> None:
        self.threshold = failures
        self.reset = reset
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._last_error = ""

    def allow(self) -> tuple[bool, bool]:
        """``(allowed, is_trial)``: whether a call may go out now, and whether it is the trial."""
        with self._lock:
            if self._opened_at is None:
                return True, False
            if time.monotonic() - self._opened_at < self.reset or self._trial_running:
                return False, False
            self._trial_running = True
            return True, True

    def succeeded(self, trial: bool) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            if trial:
                self._trial_running = False

    def failed(self, trial: bool, error: str) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = error
            if trial:
                self._trial_running = False
                self._opened_at = time.monotonic()
            elif self._failures >= self.threshold and self._opened_at is None:
                self._opened_at = time.monotonic()

    def finished(self, trial: bool) -> None:
        """The call ended without saying anything about the service (a caller's error)."""
        if trial:
            with self._lock:
                self._trial_running = False

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._opened_at is None:
                state: State = "closed"
            elif time.monotonic() - self._opened_at >= self.reset:
                state = "half-open"
            else:
                state = "open"
            return Snapshot(state, self._failures, self._opened_at, self._last_error)

    def retry_in(self) -> float:
        """Seconds until a trial call may go out (0 when closed)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.reset - (time.monotonic() - self._opened_at))
