"""The ``forms`` plugin: the app, the API key middleware, URLs, OpenAPI, a dashboard panel,
blob access for domain members and the two event topics.

Registered as entry point ``forms``. trellis-forms defines no hooks of its own: other
packages extend it through its events (``form.submitted``, ``case.changed``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trellis.core import DashboardPanel, Link, UrlMount, hookimpl
from trellis.events import Topic

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from trellis.blobs import BlobInfo

TRELLIS_IMPLEMENTS = {"core": ">=1.2,<2", "blobs": ">=1.1,<2", "events": ">=1.0,<2"}

TOPICS = (
    Topic("form.submitted", "A form submission was received (payload: trellis.forms)"),
    Topic("case.changed", "A case was created, updated or closed by a submission"),
)


@hookimpl
def core_django_apps() -> Sequence[str]:
    return ["trellis.forms"]


@hookimpl
def core_django_middleware() -> Sequence[str]:
    return ["trellis.forms.middleware.ApiKeyMiddleware"]


@hookimpl
def core_url_mounts() -> Sequence[UrlMount]:
    return [UrlMount("a/", "trellis.forms.urls", "forms", api=True)]


@hookimpl
def core_openapi() -> Mapping[str, Any]:
    from ._openapi import document

    return document()


@hookimpl
def core_dashboard_panels() -> Sequence[DashboardPanel]:
    return [
        DashboardPanel(
            "forms.domains",
            "Domains",
            ["Domain", "Members", "Forms", "Submissions", "Cases"],
            dashboard_rows,
            empty="No domains yet: create one in the admin or with trellis.forms.domain_create().",
        )
    ]


def _changelist(model: str, domain_pk: int, text: str) -> Link | str:
    from django.urls import NoReverseMatch, reverse

    try:
        href = reverse(f"admin:trellis_forms_{model}_changelist")
    except NoReverseMatch:  # the admin is not mounted
        return text
    return Link(text, f"{href}?domain__id__exact={domain_pk}")


def dashboard_rows() -> Iterable[Sequence[object]]:
    """One row per domain; each count links to the admin list filtered by the domain."""
    from .selectors import domain_counts

    for domain, members, forms, submissions, cases in domain_counts():
        yield (
            domain.name,
            _changelist("membership", domain.pk, str(members)),
            _changelist("formdefinition", domain.pk, str(forms)),
            _changelist("submission", domain.pk, str(submissions)),
            _changelist("case", domain.pk, str(cases)),
        )


@hookimpl
def blobs_can_read(user: AbstractBaseUser | AnonymousUser, info: BlobInfo) -> bool | None:
    """Active members of the blob's domain may read it; anyone else: not ours to decide."""
    from .selectors import is_member

    return True if is_member(user, info.domain) else None


@hookimpl
def events_topics() -> Sequence[Topic]:
    return list(TOPICS)
