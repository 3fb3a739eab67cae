"""stop_process: SIGTERM, then SIGKILL, on real child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from trellis.core.testing import stop_process

SERVE = """
import signal, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def _started(mode: str) -> subprocess.Popen[str]:
    """A child that sleeps; it has set up its SIGTERM handling once this returns."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, mode], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


def test_a_process_that_stops_on_sigterm_is_not_killed():
    process = _started("default")
    assert stop_process(process) == -signal.SIGTERM
    assert process.stdout is not None and process.stdout.closed


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout():
    process = _started("ignore")
    start = time.monotonic()
    assert stop_process(process, timeout=0.5) == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - start < 10


def test_an_exited_process_keeps_its_exit_code():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    assert stop_process(process) == 3
    assert stop_process(process) == 3  # and stopping it again is harmless
