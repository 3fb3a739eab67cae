"""Starting a worker for the selected provider, without Django's command machinery."""

from __future__ import annotations

from collections.abc import Sequence

from trellis.core import get_host

from ._names import validate_queue_name
from ._registry import queues as known_queues


def run_worker(
    queues: Sequence[str] = (), concurrency: int | None = None, beat: bool = False
) -> int:
    """Run the selected provider's worker (``tasks_run_worker``) until it stops.

    :param queues: queues to consume; every contributed task's queue when empty.
    :raises InvalidTaskName: a queue name is malformed.
    :return: the exit status.
    """
    for queue in queues:
        validate_queue_name(queue)
    chosen = list(queues) or known_queues()
    status: int = get_host().call(
        "tasks_run_worker", queues=chosen, concurrency=concurrency, beat=beat
    )
    return status
