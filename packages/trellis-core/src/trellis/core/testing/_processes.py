"""Stopping a server process a test started: politely first, then for sure."""

from __future__ import annotations

import subprocess
from typing import Any


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
