"""Reads: membership, definitions, cases (with filters and paging) and case history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from ._errors import CaseNotFound, DomainNotFound, FieldError, ValidationFailed
from ._ids import is_valid
from ._payloads import case_change_payload, iso

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from .models import Case, Domain, FormDefinition, Submission

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def is_member(user: AbstractBaseUser | AnonymousUser, domain: str) -> bool:
    """Whether ``user`` may use ``domain``: active staff, or an active member."""
    from .models import Membership

    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_staff", False):
        return True
    return Membership.objects.filter(domain__name=domain, user_id=user.pk).exists()


def domain_exists(name: str) -> bool:
    """Whether a domain called ``name`` exists."""
    from .models import Domain

    return is_valid("domain", name) and Domain.objects.filter(name=name).exists()


def domain_get(name: str) -> Domain:
    """The domain called ``name``.

    :raises DomainNotFound: there is none.
    """
    from .models import Domain

    found = Domain.objects.filter(name=name).first() if is_valid("domain", name) else None
    if found is None:
        raise DomainNotFound(f"no domain {name!r:.80}", field="domain")
    return found


def form_list(domain: str) -> list[FormDefinition]:
    """Every definition (all versions) of ``domain``, by name and version."""
    from .models import FormDefinition

    return list(FormDefinition.objects.filter(domain__name=domain).order_by("name", "version"))


def form_as_dict(definition: FormDefinition) -> dict[str, Any]:
    """A definition as the forms API shows it."""
    return {
        "name": definition.name,
        "version": definition.version,
        "title": definition.title,
        "schema": definition.schema,
        "case_rules": definition.case_rules,
        "created_at": iso(definition.created_at),
    }


def submissions_of(domain: str) -> QuerySet[Submission]:
    """The submissions of ``domain`` in the order they were received."""
    from .models import Submission

    return (
        Submission.objects.filter(domain__name=domain)
        .select_related("domain")
        .order_by("received_at", "id")
    )


@dataclass(frozen=True)
class CaseQuery:
    """Filters of the case list (``None``: not filtered)."""

    case_type: str | None = None
    closed: bool | None = None
    modified_since: datetime | None = None
    properties: Mapping[str, str] | None = None


def case_list(
    domain: str, query: CaseQuery, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> tuple[int, list[Case]]:
    """The count of matching cases and one page of them (oldest first).

    Property filters compare the property's value as text (``property.size=4`` matches the
    number 4 and the string ``"4"``).
    """
    from .models import Case

    values = [query.case_type or "", *(query.properties or {}).values()]
    if any("\x00" in value for value in values):
        return 0, []  # nothing stored contains NUL (submissions with it are refused)
    rows = Case.objects.filter(domain__name=domain)
    if query.case_type is not None:
        rows = rows.filter(case_type=query.case_type)
    if query.closed is not None:
        rows = rows.filter(closed=query.closed)
    if query.modified_since is not None:
        rows = rows.filter(modified_at__gte=query.modified_since)
    for n, (name, value) in enumerate(sorted((query.properties or {}).items())):
        if not is_valid("property", name):
            raise ValidationFailed(
                "invalid filter",
                [FieldError(f"property.{name}", "pattern", f"{name!r} is not a property name")],
            )
        text = Cast(KT(f"properties__{name}"), output_field=TextField())
        rows = rows.alias(**{f"_p{n}": text}).filter(**{f"_p{n}": value})
    rows = rows.select_related("domain").order_by("id")
    return rows.count(), list(rows[offset : offset + limit])


def case_as_dict(case: Case) -> dict[str, Any]:
    """A case as the cases API shows it."""
    return {
        "case_id": case.case_id,
        "case_type": case.case_type,
        "properties": case.properties,
        "closed": case.closed,
        "opened_at": iso(case.opened_at),
        "modified_at": iso(case.modified_at),
    }


def case_get(domain: str, case_id: str) -> dict[str, Any]:
    """A case with its history: every change, oldest first, as its ``case.changed`` payload.

    :raises CaseNotFound: no such case in ``domain``.
    """
    from .models import Case

    case = (
        Case.objects.select_related("domain").filter(domain__name=domain, case_id=case_id).first()
        if is_valid("case_id", case_id)
        else None
    )
    if case is None:
        raise CaseNotFound(f"no case {case_id!r:.110} in domain {domain!r}", field="case_id")
    changes = case.changes.select_related("submission", "case__domain").order_by("id")
    return {**case_as_dict(case), "history": [case_change_payload(c) for c in changes]}


def domain_counts() -> list[tuple[Domain, int, int, int, int]]:
    """Every domain with its members, forms, submissions and cases counted, in one query (for
    the dashboard)."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from .models import Case, Domain, FormDefinition, Membership, Submission

    def count(model: Any) -> Any:
        rows = (
            model.objects.filter(domain=OuterRef("pk"))
            .order_by()
            .values("domain")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(rows, output_field=IntegerField()), 0)

    rows = Domain.objects.annotate(
        n_members=count(Membership),
        n_forms=count(FormDefinition),
        n_submissions=count(Submission),
        n_cases=count(Case),
    ).order_by("name")
    return [(d, d.n_members, d.n_forms, d.n_submissions, d.n_cases) for d in rows]
