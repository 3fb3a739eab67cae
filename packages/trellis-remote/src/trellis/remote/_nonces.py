"""Remembering the nonces of signed calls, so that a replay is refused."""

from __future__ import annotations

import random
from datetime import timedelta

from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.utils import timezone

PRUNE_CHANCE = 0.01
"""About one insert in a hundred also deletes the expired nonces."""


def first_use(nonce: str, ttl: int, cache_alias: str = "") -> bool:
    """Record ``nonce`` for ``ttl`` seconds; ``False`` when it was recorded before (a replay).

    By default in the ``SeenNonce`` table of the default database (shared by every worker and
    never evicted early); with ``cache_alias`` in that Django cache instead (Redis: it must
    not evict keys before they expire, e.g. ``maxmemory-policy noeviction``).
    """
    if cache_alias:
        return bool(caches[cache_alias].add(f"trellis-remote:nonce:{nonce}", 1, timeout=ttl))
    from .models import SeenNonce

    now = timezone.now()
    try:
        with transaction.atomic():
            SeenNonce.objects.create(nonce=nonce, expires=now + timedelta(seconds=ttl))
    except IntegrityError:
        return False
    if random.random() < PRUNE_CHANCE:  # noqa: S311 - when to prune, not a secret
        SeenNonce.objects.filter(expires__lt=now).delete()
    return True
