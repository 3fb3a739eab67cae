"""stop_process: SIGTERM, then SIGKILL, on real child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_tied_server_dies_with_the_process_that_started_it() -> None:
    """A test run killed with SIGKILL runs no clean-up: its tied servers must go by themselves."""
    starter = (
        "import subprocess, time\n"
        "from trellis.core.testing import tied_to_this_process\n"
        "server = subprocess.Popen(tied_to_this_process(['/bin/sleep', '120']))\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    deadline = time.monotonic() + 10
    while b"sleep" not in Path(f"/proc/{pid}/cmdline").read_bytes():  # the launcher exec'd
        assert time.monotonic() < deadline, "the server never started"
        time.sleep(0.02)
    parent.kill()
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the server outlived the process that started it"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # killed, waiting to be reaped by init
