"""API keys: made with ``secrets``, stored as sha256, checked with ``hmac.compare_digest``.

sha256 rather than a slow password hash: a key is 256 random bits (nothing to brute-force),
and the receiver checks one on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

SCHEME = "ApiKey"


class BadCredentials(Exception):
    """The ``Authorization: ApiKey`` header is malformed or names no valid key."""


def new_secret() -> str:
    """A fresh key: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored of a key: its sha256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def authorization(username: str, secret: str) -> str:
    """The header value for a key: ``ApiKey <username>:<key>``."""
    return f"{SCHEME} {username}:{secret}"


def is_api_key_header(value: str) -> bool:
    """Whether an ``Authorization`` value uses the ``ApiKey`` scheme (case-insensitive)."""
    return value[: len(SCHEME) + 1].lower() == SCHEME.lower() + " "


def authenticate(value: str) -> AbstractBaseUser:
    """The active user an ``ApiKey <username>:<key>`` header value belongs to.

    :raises BadCredentials: malformed, unknown user, wrong, revoked key or inactive user (the
        message says which of malformed / not valid, never which part was wrong).
    """
    from .models import ApiKey

    credentials = value[len(SCHEME) + 1 :].strip()
    username, sep, secret = credentials.rpartition(":")
    if not sep or not username or not secret or len(credentials) > 400:
        raise BadCredentials(
            "malformed Authorization header: use 'ApiKey <username>:<key>' with the key shown "
            "once when it was created"
        )
    wanted = digest(secret)
    keys = ApiKey.objects.select_related("user").filter(
        user__username=username, revoked=False, user__is_active=True
    )
    for key in keys:
        if hmac.compare_digest(key.digest, wanted):
            user: AbstractBaseUser = key.user
            return user
    raise BadCredentials(
        "the API key is not valid (unknown user, wrong or revoked key, or inactive user); "
        "create a new key if it was lost"
    )
