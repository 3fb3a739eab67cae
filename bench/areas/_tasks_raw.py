"""The celery baseline's consumer: BRPOP the same JSON from a Redis list, note, repeat.

``python -m bench.areas._tasks_raw QUEUE`` with ``BENCH_TASKS_REDIS_URL`` and
``BENCH_TASKS_RESULTS`` set; stops on a ``"stop"`` message.
"""

from __future__ import annotations

import json
import sys

from bench.areas._tasks_plugin import _redis, note


def main(queue: str) -> None:
    client = _redis()
    while True:
        popped = client.brpop([queue], timeout=5)
        if popped is None:
            continue
        body = popped[1]
        if body == b"stop":
            return
        message = json.loads(body)
        note(message["kwargs"]["sent_at"])


if __name__ == "__main__":
    main(sys.argv[1])
