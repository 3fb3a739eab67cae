"""Hooks of the ``reports`` contract: where raw records come from, and who may view reports.

Both are *extension* hooks: every plugin is asked. A subsystem that publishes records on an
events topic (trellis-forms: ``form.submitted``) gives a :class:`~trellis.reports.Source` so a
report over that topic can be rebuilt from the raw data, and says which of its users may view
a domain's reports. Active staff always may; anyone else needs a plugin's ``True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trellis.core import Contract, hookspec

from ._types import Source

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

CONTRACT = Contract("reports", "1.1.0", description="Declarative reports over event records")


@hookspec
def reports_sources() -> Sequence[Source]:
    """Sources of raw records: for a topic, how to read one domain's records for a rebuild.

    Extension hook: every plugin is asked; the first source of a topic (in plugin load order)
    wins. Each record a source yields must be exactly the payload the topic's events carry,
    so a rebuild and incremental processing count the same records the same way. Only
    topics with a source can be reported on, and the ``reports`` processor handles exactly
    those topics. A source whose records can be revised (edited in place, keeping their id)
    names the payload field holding the revision (``revision_field``, since contract 1.1.0)
    and yields only each record's latest revision; a newer revision then replaces the
    record's earlier contribution in every report.

    :return: :class:`~trellis.reports.Source` objects (topic, id field, ``records(domain)``).
    """


@hookspec
def reports_can_view(user: AbstractBaseUser | AnonymousUser, domain: str) -> bool | None:
    """Whether ``user`` may view the reports of ``domain`` (pages, JSON and CSV).

    Extension hook: every plugin is asked. Any ``False`` denies; otherwise at least one
    ``True`` is needed; ``None`` abstains. An implementation that raises denies (and is logged
    with its plugin's name). Active staff users are always allowed without asking; anonymous
    and inactive users never are. A refusal is answered like an unknown report (404), so
    report slugs cannot be probed.

    :param user: the request's authenticated user.
    :param domain: the domain whose reports are asked for.
    :return: ``True`` to allow, ``False`` to deny, ``None`` to leave it to others.
    """
