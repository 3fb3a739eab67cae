"""Settings of trellis-remote, by the settings rule (environment, then Django setting).

Read on every call, so a changed variable applies at once. The service side:

* ``TRELLIS_REMOTE_SERVE`` — contracts this project serves, comma-separated (``blobs``);
  empty: it serves none and ``/remote/`` answers 404 ``not_serving``.
* ``TRELLIS_REMOTE_SECRET`` — the shared secret callers sign with; several, comma-separated,
  are all accepted (to rotate: add the new one, move the callers, drop the old one).
* ``TRELLIS_REMOTE_NAME`` — the service's name in errors and logs (default ``trellis``).
* ``TRELLIS_REMOTE_MAX_SKEW`` — how far a call's timestamp may be from the clock (30 s).
* ``TRELLIS_REMOTE_NONCE_CACHE`` — empty (default): nonces are remembered in the
  ``SeenNonce`` table of the service's database; or a Django cache alias (Redis) that every
  worker shares and that never evicts a key before it expires.

The client side, for a contract ``<C>`` whose provider is ``remote``:

* ``TRELLIS_REMOTE_<C>_URL`` — the service's remote mount (``http://host:port/remote/``);
* ``TRELLIS_REMOTE_<C>_SECRET`` — the shared secret;
* ``TRELLIS_REMOTE_<C>_CONNECT_TIMEOUT`` (2 s) and ``_READ_TIMEOUT`` (30 s, per socket read);
* ``TRELLIS_REMOTE_<C>_ATTEMPTS`` (3) — tries of a call marked safe to repeat;
* ``TRELLIS_REMOTE_<C>_FAILURES`` (5) — failures in a row that open the circuit;
* ``TRELLIS_REMOTE_<C>_RESET`` (10 s) — how long the circuit stays open before one trial call.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from trellis.core import ConfigurationError, read_setting

MIN_SECRET_LENGTH = 32
_SECRET = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: it goes in environment files


def _text(name: str) -> str:
    value = read_setting(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string; found {type(value).__name__}")
    return value.strip()


def _number(name: str, default: float, *, integer: bool = False, minimum: float = 0) -> float:
    value = read_setting(name)
    if value is None:
        return default
    try:
        number = float(str(value)) if not integer else int(str(value))
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number of seconds"
        raise ConfigurationError(f"{name} must be {kind}; found {value!r}") from None
    if isinstance(value, bool) or not number >= minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}; found {value!r}")
    return number


def secrets_of(name: str) -> list[str]:
    """The secrets in setting ``name`` (comma-separated), each checked.

    :raises ConfigurationError: a secret is shorter than 32 characters or has spaces or
        non-ASCII characters (the value itself is never shown).
    """
    found = [part.strip() for part in _text(name).split(",") if part.strip()]
    for index, secret in enumerate(found, 1):
        if len(secret) < MIN_SECRET_LENGTH or not _SECRET.fullmatch(secret):
            raise ConfigurationError(
                f"{name}: secret #{index} must be at least {MIN_SECRET_LENGTH} printable ASCII "
                f"characters without spaces (it has {len(secret)}); make one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
    return found


@dataclass(frozen=True)
class ServerSettings:
    serve: frozenset[str]
    secrets: list[str]
    name: str
    max_skew: int
    nonce_cache: str


def server_settings() -> ServerSettings:
    serve = frozenset(
        part.strip().lower() for part in _text("TRELLIS_REMOTE_SERVE").split(",") if part.strip()
    )
    return ServerSettings(
        serve=serve,
        secrets=secrets_of("TRELLIS_REMOTE_SECRET"),
        name=_text("TRELLIS_REMOTE_NAME") or "trellis",
        max_skew=int(_number("TRELLIS_REMOTE_MAX_SKEW", 30, integer=True, minimum=1)),
        nonce_cache=_text("TRELLIS_REMOTE_NONCE_CACHE"),
    )


@dataclass(frozen=True)
class ClientSettings:
    """How a client reaches the service of one contract (hashable: it keys the pools)."""

    contract: str
    url: str
    secret: str
    connect_timeout: float
    read_timeout: float
    attempts: int
    failures: int
    reset: float

    def __repr__(self) -> str:  # never the secret
        return f"ClientSettings(contract={self.contract!r}, url={self.url!r})"


def client_settings(contract: str) -> ClientSettings:
    """The client settings of ``contract``.

    :raises ConfigurationError: the URL or secret is missing or malformed, naming the setting.
    """
    prefix = f"TRELLIS_REMOTE_{contract.upper()}_"
    url = _text(prefix + "URL")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigurationError(
            f"{prefix}URL must be the http(s) URL of the service's remote mount, such as "
            f"'http://127.0.0.1:8001/remote/'; found {url!r}"
            if url
            else f"{prefix}URL is not set: the {contract!r} provider 'remote' needs the URL of "
            "the service's remote mount, such as 'http://127.0.0.1:8001/remote/'"
        )
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise ConfigurationError(
            f"{prefix}URL must not carry credentials, a query or a fragment (the secret goes "
            f"in {prefix}SECRET)"
        )
    found = secrets_of(prefix + "SECRET")
    if not found:
        raise ConfigurationError(
            f"{prefix}SECRET is not set: the {contract!r} provider 'remote' signs every call "
            "with the service's TRELLIS_REMOTE_SECRET"
        )
    return ClientSettings(
        contract=contract,
        url=url if url.endswith("/") else url + "/",
        secret=found[0],
        connect_timeout=_number(prefix + "CONNECT_TIMEOUT", 2.0, minimum=0.001),
        read_timeout=_number(prefix + "READ_TIMEOUT", 30.0, minimum=0.001),
        attempts=int(_number(prefix + "ATTEMPTS", 3, integer=True, minimum=1)),
        failures=int(_number(prefix + "FAILURES", 5, integer=True, minimum=1)),
        reset=_number(prefix + "RESET", 10.0, minimum=0.001),
    )
