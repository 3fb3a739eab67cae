"""What the code running now is doing on behalf of: the request id of the current request."""

from __future__ import annotations

import contextvars

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "trellis_request_id", default=None
)
"""The ``X-Request-ID`` of the HTTP request being served (set by trellis-core's edge
middleware), so calls it makes to other services carry it and one request can be followed
across them; ``None`` outside a request."""


def request_id() -> str | None:
    """The id of the request being served in this thread or task, ``None`` outside one."""
    return current_request_id.get()
