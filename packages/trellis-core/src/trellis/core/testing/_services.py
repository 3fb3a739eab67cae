"""Tests that need a real server: run under CI, skip locally with the command to start it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


def in_ci() -> bool:
    """Whether the ``CI`` environment variable says this is a CI run."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_service(name: str, probe: Callable[[], object], *, how_to_start: str) -> None:
    """Make sure ``name`` answers ``probe()``; otherwise fail under CI, skip locally.

    :param probe: raises when the service cannot be reached.
    :param how_to_start: the command (or setting) that makes the service available, shown in
        the skip reason.
    """
    try:
        probe()
    except Exception as exc:
        message = f"{name} is not reachable ({type(exc).__name__}: {exc}); {how_to_start}"
        if in_ci():
            pytest.fail(f"CI requires {message}", pytrace=False)
        pytest.skip(message)


POSTGRES_URL_VARIABLE = "TRELLIS_TEST_DATABASE_URL"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_database(prefix: str = "trellis_test") -> Iterator[str]:
    """Create a fresh PostgreSQL database, yield its URL, drop it afterwards.

    The server is the one ``TRELLIS_TEST_DATABASE_URL`` names (default
    ``postgres://postgres@127.0.0.1:5432/postgres``); unreachable, it fails under CI and skips
    locally, as :func:`require_service` does.
    """
    server = os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)

    def probe() -> None:
        import psycopg

        psycopg.connect(server, connect_timeout=3).close()

    require_service(
        "PostgreSQL",
        probe,
        how_to_start=(
            f"start it (pg_ctlcluster <version> main start) or set {POSTGRES_URL_VARIABLE}"
        ),
    )
    with throwaway_database(server, prefix) as url:
        yield url


@contextmanager
def throwaway_database(server: str, prefix: str) -> Iterator[str]:
    """Create a database named ``<prefix>_<random>`` on PostgreSQL ``server`` (a URL), yield
    its URL, and drop it afterwards, connections and all. No reachability check: for code
    outside pytest (benchmarks) that reports an unreachable server its own way."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
