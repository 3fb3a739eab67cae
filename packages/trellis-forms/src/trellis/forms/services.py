"""Writes: domains, members, API keys, form definitions (submissions: :func:`submit`).

Re-exported by :mod:`trellis.forms`; application code imports them from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction

from ._auth import authorization, digest, new_secret
from ._definitions import validate_definition
from ._errors import DomainNotFound, FormsError, InvalidDefinition
from ._ids import check
from ._receiving import submit, version_errors

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from .models import ApiKey, Domain, FormDefinition, Membership

__all__ = [
    "CreatedApiKey",
    "DefinitionExists",
    "api_key_create",
    "api_key_revoke",
    "domain_create",
    "form_define",
    "member_add",
    "member_remove",
    "submit",
]


class DefinitionExists(FormsError):
    """That form version exists with another schema, case rules or title: versions are
    immutable (define the next version)."""

    status = 409
    code = "definition_exists"


@dataclass(frozen=True)
class CreatedApiKey:
    """A new API key. ``secret`` exists only here: it is stored as a hash and never shown again.

    ``str()`` of it is the secret (to print it once); ``repr()`` hides it, so a log line or a
    traceback never shows it.
    """

    api_key: ApiKey
    secret: str = field(repr=False)

    def __str__(self) -> str:
        return self.secret

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value: ``ApiKey <username>:<secret>``."""
        return authorization(self.api_key.user.get_username(), self.secret)


def _domain(name: str) -> Domain:
    from .models import Domain

    found = Domain.objects.filter(name=name).first()
    if found is None:
        raise DomainNotFound(f"no domain {name!r}; create it with domain_create()", field="domain")
    return found


def domain_create(*, name: str, title: str = "") -> Domain:
    """Create a domain (a project space); an existing one of that name is returned as is.

    :raises InvalidIdentifier: ``name`` is not ``[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?``.
    """
    from .models import Domain

    domain, _ = Domain.objects.get_or_create(name=check("domain", name), defaults={"title": title})
    return domain


def member_add(*, domain: str, user: AbstractBaseUser) -> Membership:
    """Make ``user`` a member of ``domain`` (idempotent).

    :raises DomainNotFound: no such domain.
    """
    from .models import Membership

    membership, _ = Membership.objects.get_or_create(domain=_domain(domain), user=cast(Any, user))
    return membership


def member_remove(*, domain: str, user: AbstractBaseUser) -> bool:
    """End ``user``'s membership of ``domain``; ``True`` if there was one."""
    from .models import Membership

    deleted, _ = Membership.objects.filter(domain__name=domain, user=cast(Any, user)).delete()
    return bool(deleted)


def api_key_create(*, user: AbstractBaseUser, name: str) -> CreatedApiKey:
    """Create an API key for ``user``. The secret is returned once and stored only as sha256.

    :param name: what the key is for (a device, a script), at most 100 characters.
    """
    from .models import ApiKey

    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValueError(f"API key name must be 1 to 100 characters; got {name!r}")
    secret = new_secret()
    created = ApiKey.objects.create(user=cast(Any, user), name=name.strip(), digest=digest(secret))
    return CreatedApiKey(created, secret)


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke a key: requests using it are refused (401) from now on."""
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])


def form_define(
    *,
    domain: str,
    name: str,
    version: int,
    schema: Mapping[str, Any],
    case_rules: Sequence[Mapping[str, Any]] = (),
    title: str = "",
) -> FormDefinition:
    """Define version ``version`` of form ``name`` in ``domain``.

    The schema is checked against the JSON Schema Draft 2020-12 metaschema (only local
    ``$ref``), the case rules against their format and their pointers against the schema.
    Defining an existing version again with the same content returns it; versions are immutable.

    :raises InvalidDefinition: every problem, each with its path (``/schema/...``,
        ``/case_rules/0/...``).
    :raises DefinitionExists: the version exists with other content.
    :raises DomainNotFound: no such domain.
    """
    from .models import FormDefinition

    check("form", name)
    wrong = version_errors(version)
    if wrong:
        raise InvalidDefinition("the form definition is invalid", wrong)
    schema = dict(schema) if isinstance(schema, Mapping) else schema
    rules: Any = case_rules
    if isinstance(case_rules, list | tuple):  # anything else is refused as not a list
        rules = [dict(r) if isinstance(r, Mapping) else r for r in case_rules]
    validate_definition(schema=schema, case_rules=rules, title=title)
    with transaction.atomic():
        owner = _domain(domain)
        existing = FormDefinition.objects.filter(domain=owner, name=name, version=version).first()
        if existing is not None:
            if (existing.schema, existing.case_rules, existing.title) == (schema, rules, title):
                return existing
            raise DefinitionExists(
                f"form {name!r} version {version} already exists in domain {domain!r} with "
                f"other content; define version {version + 1} instead",
                field="version",
            )
        return FormDefinition.objects.create(
            domain=owner, name=name, version=version, schema=schema, case_rules=rules, title=title
        )
