"""Value types that plugins return from core extension hooks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ._errors import TrellisError

HealthStatus = Literal["ok", "warn", "fail"]
"""``ok``: working; ``warn``: degraded but serving; ``fail``: not working."""

_CHECK_NAME = re.compile(r"[a-z][a-z0-9_.-]*")
_PREFIX = re.compile(r"([a-z0-9][a-z0-9_.-]*/)*")
# A site path ("/reports/demo/visits/?page=2") or an http(s) URL; never "javascript:" and such.
_HREF = re.compile(r"(?:/(?!/)|https?://)[!#-&(-;=?-~]*", re.ASCII)


@dataclass(frozen=True)
class HealthResult:
    """What a health check found. ``details`` must not contain secrets."""

    status: HealthStatus = "ok"
    message: str = ""
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthCheck:
    """A named check run by the ``/health`` endpoint.

    :param name: unique, lower-case name used by ``/health?only=<name>``.
    :param check: callable returning a :class:`HealthResult` (``None`` means ok); an exception
        it raises is reported as ``fail`` with the exception type and message.
    :param deep: the check does real work against a backing service (writes a probe, calls a
        remote API). Deep checks never run for the readiness probe, and for the detailed
        report they run at most once per interval (``TRELLIS_HEALTH_INTERVAL``, default 60 s),
        their result cached in between, so a flood of requests causes no flood of work.
    """

    name: str
    check: Callable[[], HealthResult | None]
    deep: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _CHECK_NAME.fullmatch(self.name):
            raise TrellisError(
                f"health check name {self.name!r} is invalid: use lower-case letters, digits, "
                "'_', '-' or '.', starting with a letter"
            )


@dataclass(frozen=True)
class UrlMount:
    """URLs a plugin contributes: ``urlconf`` is included under ``prefix``.

    :param prefix: path prefix ending in ``/`` (``"blobs/"``), or ``""`` for the site root.
    :param urlconf: dotted path of a module with ``urlpatterns``.
    :param namespace: URL namespace for ``reverse()``; defaults to the module's ``app_name``.
    :param api: the mount is an API: every error under ``prefix`` (404 for an unknown path,
        CSRF refusals, unexpected exceptions) is answered as JSON ``{"code", "message",
        "field", "request_id"}`` by trellis-core's middleware, never as an HTML page.
    """

    prefix: str
    urlconf: str
    namespace: str | None = None
    api: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX.fullmatch(self.prefix):
            raise TrellisError(
                f"URL prefix {self.prefix!r} is invalid: use relative segments each ending in "
                "'/', such as 'blobs/' or 'api/blobs/', or '' for the site root"
            )


@dataclass(frozen=True)
class DashboardPanel:
    """A table a plugin adds to the staff dashboard (``/``), below the core sections.

    :param name: unique, lower-case name (``[a-z][a-z0-9_.-]*``): the section's HTML id.
    :param title: the section's heading.
    :param columns: column headings.
    :param rows: called each time the dashboard renders; returns rows of cells (shown with
        ``str()``, escaped). It runs in the request, so it should be cheap (a few queries).
        An exception it raises is shown in the panel in place of the table, with its type.
    :param empty: shown when ``rows()`` returns no rows.
    """

    name: str
    title: str
    columns: Sequence[str]
    rows: Callable[[], Iterable[Sequence[object]]]
    empty: str = "Nothing to show yet."

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _CHECK_NAME.fullmatch(self.name):
            raise TrellisError(
                f"dashboard panel name {self.name!r} is invalid: use lower-case letters, "
                "digits, '_', '-' or '.', starting with a letter"
            )
        if isinstance(self.columns, str) or not all(isinstance(c, str) for c in self.columns):
            raise TrellisError(
                f"dashboard panel {self.name!r}: columns must be a sequence of strings, "
                f"got {self.columns!r}"
            )


@dataclass(frozen=True)
class Link:
    """A dashboard panel cell shown as a link (contract 1.2): ``Link("Visits", "/reports/...")``.

    :param text: the link text (escaped like any cell).
    :param href: a path on this site (``/admin/...``) or an ``http(s)://`` URL: printable ASCII
        without spaces, quotes or ``<``/``>``; anything else (``javascript:``, ``//host``) is
        refused, so a panel cannot inject script into the staff dashboard.
    """

    text: str
    href: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TrellisError(f"link text must be a string, got {self.text!r}")
        if not isinstance(self.href, str) or not _HREF.fullmatch(self.href):
            raise TrellisError(
                f"link href {self.href!r} is invalid: use a path starting with '/' or an "
                "http(s):// URL, percent-encoding spaces, quotes and '<', '>'"
            )
