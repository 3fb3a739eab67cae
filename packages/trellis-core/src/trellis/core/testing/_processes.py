"""Server processes a test starts: tied to the test run, stopped politely, then for sure."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

# Runs in the server's process before the server does: asks Linux to SIGKILL it when the
# thread that started it dies (PR_SET_PDEATHSIG = 1; it survives exec), then becomes the
# server. A launcher rather than Popen's preexec_fn, which is unsafe while other threads run.
_LAUNCHER = """\
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_PDEATHSIG) failed: errno %d" % ctypes.get_errno())
if os.getppid() != int(sys.argv[1]):
    sys.exit("the process that started this server is gone")
os.execv(sys.argv[2], sys.argv[2:])
"""


def tied_to_this_process(command: Sequence[str]) -> list[str]:
    """``command`` wrapped so that it dies with this process (Linux); unchanged elsewhere.

    A test run killed with SIGKILL runs no clean-up; servers started this way go with it.
    ``command[0]`` must be a path (it is ``exec``-ed, not looked up on ``PATH``).
    """
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *command]


def stop_process(process: subprocess.Popen[Any], *, timeout: float = 10.0) -> int | None:
    """Send SIGTERM, wait up to ``timeout`` seconds, then SIGKILL and wait; close its pipes.

    Safe on a process that has already exited.

    :return: the exit code (negative: the signal that ended it).
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return process.returncode
