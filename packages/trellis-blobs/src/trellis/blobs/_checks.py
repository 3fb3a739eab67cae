"""Django system checks: a blob store that cannot work shows in ``manage.py check``.

Not at the first upload. The checks read settings only, with no network request; the SQLite
journal mode is read from the database only when the check is run for it (``migrate``,
``check --database default``).

========================  =============================================================
``trellis_blobs.E001``    ``TRELLIS_BLOBS_MAX_SIZE`` does not parse
``trellis_blobs.E002``    the selected provider is unknown, disabled or quarantined
``trellis_blobs.E003``    the selected provider's settings cannot work (s3 without a
                          bucket or without boto3, migrating without FROM/TO...)
``trellis_blobs.E004``    a relative filesystem root under the production profile
``trellis_blobs.W001``    a relative filesystem root (depends on the working directory)
``trellis_blobs.W002``    SQLite without ``transaction_mode="IMMEDIATE"``
``trellis_blobs.W003``    SQLite not in WAL mode
========================  =============================================================
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core import checks
from django.db import connections, router

from trellis.core import ConfigurationError, TrellisError, get_host

from ._settings import max_size, relative_root_message, root_setting, setting

_SQLITE_ADVICE = (
    'use trellis.core.django.database_from_env(), or set OPTIONS = {"transaction_mode": '
    '"IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"} on the SQLite database '
    "(shared-docs/blobs-providers.md, 'SQLite')"
)


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every check of the module docstring's table."""
    messages: list[checks.CheckMessage] = []
    try:
        max_size()
    except ConfigurationError as exc:
        messages.append(checks.Error(str(exc), id="trellis_blobs.E001"))
    messages += check_provider()
    messages += check_database(kwargs.get("databases") or ())
    return messages


def check_provider() -> list[checks.CheckMessage]:
    """The selected provider is active and its settings can work."""
    try:
        provider = get_host().selected_provider("blobs")
    except TrellisError as exc:
        return [checks.Error(str(exc), id="trellis_blobs.E002")]
    return _provider_problems(provider, seen=set())


def _provider_problems(provider: str, *, seen: set[str]) -> list[checks.CheckMessage]:
    if provider in seen:  # a migration from or to "migrating" is refused by load_migration
        return []
    seen.add(provider)
    if provider == "filesystem":
        return _filesystem_problems()
    if provider == "s3":
        from . import s3

        if importlib.util.find_spec("boto3") is None:
            return [
                checks.Error(
                    "the s3 blobs provider needs boto3, which is not installed",
                    hint="pip install 'trellis-blobs[s3]'",
                    id="trellis_blobs.E003",
                )
            ]
        try:
            s3.load_settings()
        except ConfigurationError as exc:
            return [checks.Error(str(exc), id="trellis_blobs.E003")]
        return []
    if provider == "migrating":
        from .migrating import load_migration

        try:
            migration = load_migration()
        except TrellisError as exc:
            return [checks.Error(str(exc), id="trellis_blobs.E003")]
        return _provider_problems(migration.old, seen=seen) + _provider_problems(
            migration.new, seen=seen
        )
    return []  # another package's provider: its own checks


def _filesystem_problems() -> list[checks.CheckMessage]:
    root, source = root_setting()
    if Path(root).expanduser().is_absolute():
        return []
    if setting("TRELLIS_PROFILE") == "production":
        return [
            checks.Error(
                relative_root_message(root, source) + "; the production profile refuses it",
                id="trellis_blobs.E004",
            )
        ]
    return [checks.Warning(relative_root_message(root, source), id="trellis_blobs.W001")]


def check_database(databases: Iterable[str]) -> list[checks.CheckMessage]:
    """SQLite holding blob metadata needs IMMEDIATE transactions and WAL for concurrent runs.

    Without them two processes writing at once (two ``blobs_expire`` runs, a put during an
    expiry) fail with "database is locked" instead of waiting for each other.
    """
    from .models import BlobMeta

    alias = router.db_for_write(BlobMeta)
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return []
    options = connection.settings_dict.get("OPTIONS", {})
    messages: list[checks.CheckMessage] = []
    if str(options.get("transaction_mode", "")).upper() != "IMMEDIATE":
        messages.append(
            checks.Warning(
                f"the SQLite database {alias!r} holding blob metadata does not use "
                'transaction_mode="IMMEDIATE": concurrent writers (two blobs_expire runs, a '
                'put during an expiry) fail with "database is locked" instead of waiting',
                hint=_SQLITE_ADVICE,
                id="trellis_blobs.W002",
            )
        )
    if not _wal(alias, options, databases):
        messages.append(
            checks.Warning(
                f"the SQLite database {alias!r} holding blob metadata is not in WAL mode: "
                "readers and a writer block each other",
                hint=_SQLITE_ADVICE,
                id="trellis_blobs.W003",
            )
        )
    return messages


def _wal(alias: str, options: dict[str, Any], databases: Iterable[str]) -> bool:
    """Whether the database is in WAL mode: asked when the check may query it, else settings."""
    if alias in databases:
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            row = cursor.fetchone()
        return bool(row) and str(row[0]).lower() == "wal"
    command = str(options.get("init_command", "")).lower().replace(" ", "")
    return "journal_mode=wal" in command
