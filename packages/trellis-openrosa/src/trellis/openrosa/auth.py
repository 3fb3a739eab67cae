"""HTTP authentication on OpenRosa routes: Digest (what ODK Collect uses) and Basic.

Digest (RFC 7616 with MD5 and ``qop=auth``, the variant OpenRosa clients speak) needs
``md5(username:realm:password)`` on the server, and Django keeps only a slow salted hash:
:class:`DigestPasswordRecorder`, a password validator, records it whenever a password is set
(``createsuperuser``, ``changepassword``, the admin, ``set_password`` + ``save``). Nonces are
signed with ``SECRET_KEY`` and carry their time (good for five minutes, then ``stale=true``);
the highest nonce count seen per nonce is stored, so a replayed answer is refused.

Users created with ``create_user(password=...)`` (``createsuperuser`` too) are hashed without
telling validators: their credential is recorded at their first sign-in with a password (the
admin's login form, or Basic on an OpenRosa route), or by ``manage.py openrosa_password``.

Basic is accepted too, except over plain HTTP in the production profile (a password in clear).

django-digest (what CommCare HQ and KoboToolbox use) is not used: its PyPI releases
(django-digest 1.13, python-digest 1.7) import Python 2 modules (``urlparse``) and hash
``str`` objects, so they do not import on Python 3.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone

from trellis.core import read_setting

from . import _settings

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(?:,|$)')
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
MAX_HEADER = 4096


class Unauthorized(Exception):
    """No acceptable credentials: answer 401 with a Digest challenge (``stale`` when the
    nonce was merely old)."""

    def __init__(self, message: str, *, stale: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.stale = stale


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def partial_digest(username: str, realm: str, password: str) -> str:
    """``md5(username:realm:password)``: what Digest checks answers against (RFC 7616 HA1)."""
    return _md5(f"{username}:{realm}:{password}")


class DigestPasswordRecorder:
    """A password "validator" that refuses nothing: when a password is set, it records the
    user's Digest credential for the configured realm. Add it to AUTH_PASSWORD_VALIDATORS
    (the ``openrosa`` plugin does, when the project sets none)."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        record(user, password)

    def get_help_text(self) -> str:
        return ""


def record(user: AbstractBaseUser, password: str) -> None:
    """Record ``user``'s Digest credential for ``password`` (in the configured realm)."""
    from .models import DigestCredential

    realm = _settings.realm()
    username = user.get_username()
    DigestCredential.objects.update_or_create(
        user=cast(Any, user),
        realm=realm,
        defaults={
            "username": username,
            "ha1": partial_digest(username, realm, password),
            "updated_at": timezone.now(),
        },
    )


def record_at_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: a user signing in with a password form (the admin's) who
    has no Digest credential yet gets one, so field clients work after a first web login.
    The password is checked again (once per user and realm) before it is recorded."""
    if request is None or user is None or request.method != "POST":
        return
    password = request.POST.get("password")
    if not isinstance(password, str) or not password:
        return
    from .models import DigestCredential

    realm = _settings.realm()
    if DigestCredential.objects.filter(user=user, realm=realm).exists():
        return
    if user.check_password(password):
        record(user, password)


def _sign(stamp: str) -> str:
    secret = settings.SECRET_KEY
    key = b"trellis.openrosa.nonce:" + (secret.encode() if isinstance(secret, str) else secret)
    return hmac.new(key, stamp.encode(), hashlib.sha256).hexdigest()[:32]


def new_nonce() -> str:
    """A nonce: its creation time, a random part and their signature."""
    stamp = f"{int(time.time())}.{secrets.token_hex(8)}"
    return f"{stamp}.{_sign(stamp)}"


def challenge(*, stale: bool = False) -> str:
    """The ``WWW-Authenticate`` value of a 401 on OpenRosa routes."""
    value = (
        f'Digest realm="{_settings.realm()}", qop="auth", algorithm=MD5, '
        f'nonce="{new_nonce()}", opaque="{_sign("opaque")}"'
    )
    return value + (", stale=true" if stale else "")


@dataclass(frozen=True)
class _Answer:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str
    nc: str
    cnonce: str
    algorithm: str


def _params(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    at = 0
    while at < len(text):
        match = _PARAM.match(text, at)
        if match is None or match.end() == at:
            raise Unauthorized("the Digest Authorization header cannot be read")
        name, value = match[1].lower(), match[2]
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if name in found:
            raise Unauthorized(f"the Digest Authorization header has {name!r} twice")
        found[name] = value
        at = match.end()
    return found


def _answer(text: str) -> _Answer:
    params = _params(text)
    missing = [
        n
        for n in ("username", "realm", "nonce", "uri", "response", "nc", "cnonce")
        if n not in params
    ]
    if missing:
        raise Unauthorized(f"the Digest answer lacks {', '.join(missing)}")
    if params.get("qop", "auth") != "auth":
        raise Unauthorized("only qop=auth is supported")
    if params.get("algorithm", "MD5").upper() != "MD5":
        raise Unauthorized("only algorithm=MD5 is supported")
    if not _HEX8.fullmatch(params["nc"]) or not _HEX32.fullmatch(params["response"].lower()):
        raise Unauthorized("the Digest answer's nc or response is malformed")
    return _Answer(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"].lower(),
        qop="auth",
        nc=params["nc"],
        cnonce=params["cnonce"],
        algorithm="MD5",
    )


def _check_nonce(nonce: str) -> None:
    parts = nonce.split(".")
    if len(parts) != 3 or not hmac.compare_digest(_sign(f"{parts[0]}.{parts[1]}"), parts[2]):
        raise Unauthorized("the Digest nonce was not issued here")
    try:
        issued = int(parts[0])
    except ValueError:
        raise Unauthorized("the Digest nonce was not issued here") from None
    if not 0 <= time.time() - issued <= _settings.NONCE_SECONDS:
        raise Unauthorized("the Digest nonce has expired", stale=True)


def _count(nonce: str, nc: int) -> None:
    """Refuse a nonce count seen before (a replay); prune nonces past their lifetime."""
    from .models import DigestNonce

    if DigestNonce.objects.filter(nonce=nonce, count__lt=nc).update(count=nc):
        return
    try:
        with transaction.atomic():
            DigestNonce.objects.create(nonce=nonce, count=nc)
    except IntegrityError:
        raise Unauthorized("this Digest answer was used before (nonce count replayed)") from None
    old = timezone.now() - timedelta(seconds=2 * _settings.NONCE_SECONDS)
    DigestNonce.objects.filter(created_at__lt=old).delete()


def _same_uri(sent: str, request: HttpRequest) -> bool:
    from urllib.parse import urlsplit

    full = request.get_full_path()
    if sent == full:
        return True
    parts = urlsplit(sent)  # some clients send the absolute URI
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return bool(parts.scheme) and path == full


def _digest_user(request: HttpRequest, text: str) -> AbstractBaseUser:
    from .models import DigestCredential

    answer = _answer(text)
    realm = _settings.realm()
    if answer.realm != realm:
        raise Unauthorized(f"the Digest answer is for realm {answer.realm!r:.60}, not {realm!r}")
    _check_nonce(answer.nonce)
    if not _same_uri(answer.uri, request):
        raise Unauthorized("the Digest answer is for another URI")
    credential = (
        DigestCredential.objects.select_related("user")
        .filter(username=answer.username, realm=realm)
        .first()
    )
    ha2 = _md5(f"{request.method}:{answer.uri}")
    expected = (
        _md5(f"{credential.ha1}:{answer.nonce}:{answer.nc}:{answer.cnonce}:auth:{ha2}")
        if credential is not None
        else ""
    )
    if credential is None or not hmac.compare_digest(expected, answer.response):
        raise Unauthorized(
            "unknown user or wrong password (a user whose password was set before Digest "
            "was enabled must set it again)"
        )
    user = credential.user
    if not user.is_active or user.get_username() != answer.username:
        raise Unauthorized("unknown user or wrong password")
    _count(answer.nonce, int(answer.nc, 16))
    return user


def _basic_user(request: HttpRequest, text: str) -> AbstractBaseUser:
    if read_setting("TRELLIS_PROFILE") == "production" and not request.is_secure():
        raise Unauthorized(
            "Basic authentication sends the password in clear and is refused over plain HTTP "
            "in production; use HTTPS or Digest"
        )
    try:
        decoded = base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the Basic credentials are not base64 of UTF-8 text") from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise Unauthorized("the Basic credentials lack the ':' between user and password")
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise Unauthorized("unknown user or wrong password")
    from .models import DigestCredential

    if not DigestCredential.objects.filter(user=user, realm=_settings.realm()).exists():
        record(user, password)  # the password is known right now: Digest works from here on
    return user


def user_from(request: HttpRequest, *, allow_session: bool) -> AbstractBaseUser:
    """The authenticated user of an OpenRosa request.

    ``Authorization: Digest`` or ``Basic`` is checked here; an API key was already checked by
    trellis-forms' middleware; a browser session counts only where ``allow_session`` (reads:
    a write would need a CSRF token the protocol does not send).

    :raises Unauthorized: no credentials, or wrong ones.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if len(header) > MAX_HEADER:
        raise Unauthorized("the Authorization header is too long")
    scheme, _, rest = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "digest":
        return _digest_user(request, rest)
    if scheme == "basic":
        return _basic_user(request, rest)
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated and user.is_active
    if signed_in and (scheme == "apikey" or allow_session):
        return cast("AbstractBaseUser", user)
    refused = getattr(request, "trellis_api_key_error", None)
    if scheme == "apikey" and isinstance(refused, str):
        raise Unauthorized(refused)  # trellis-forms' middleware left the refusal to us
    raise Unauthorized("authentication required (Digest, Basic or an API key)")
