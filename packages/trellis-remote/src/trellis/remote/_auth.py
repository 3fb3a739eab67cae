"""Signed calls: HMAC-SHA256 over what the call means, with a timestamp and a nonce.

The client signs a canonical text made of the method, the path, the contract and version
range it asks for, the sha256 of the JSON arguments, a Unix timestamp and a random nonce.
The service recomputes it with each secret it accepts and compares in constant time, refuses
a timestamp outside ``max_skew`` seconds, and refuses a nonce it has seen (a replay) within
that window. A streamed body is not part of the signature: it is not known before it is
sent; its integrity is the caller's checksum (trellis-blobs checks sha256 on read) and, across
a network, TLS. See ADR 0008.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

SCHEME = "Trellis-HMAC-SHA256"
_HEADER = re.compile(rf"{SCHEME} t=([0-9]{{1,12}}),n=([0-9a-f]{{32}}),s=([0-9a-f]{{64}})")


def canonical(
    method: str, path: str, contract: str, wanted: str, args_sha256: str, timestamp: int, nonce: str
) -> bytes:
    """The text that is signed (one field per line)."""
    fields = (SCHEME, method.upper(), path, contract, wanted, args_sha256, str(timestamp), nonce)
    return "\n".join(fields).encode("utf-8")


def signature(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def authorization(
    secret: str, method: str, path: str, contract: str, wanted: str, args_sha256: str
) -> str:
    """The ``Authorization`` header value of a new call (fresh timestamp and nonce)."""
    timestamp, nonce = int(time.time()), secrets.token_hex(16)
    message = canonical(method, path, contract, wanted, args_sha256, timestamp, nonce)
    return f"{SCHEME} t={timestamp},n={nonce},s={signature(secret, message)}"


@dataclass(frozen=True)
class Verdict:
    """What checking a call's ``Authorization`` found: ``code`` is ``""`` when it is good."""

    code: str
    reason: str
    nonce: str = ""
    timestamp: int = 0

    @property
    def ok(self) -> bool:
        return not self.code


def verify(
    header: str | None,
    accepted: list[str],
    *,
    method: str,
    path: str,
    contract: str,
    wanted: str,
    args_sha256: str,
    max_skew: int,
    now: float | None = None,
) -> Verdict:
    """Check a call's signature and timestamp (the nonce is checked by the caller, once the
    signature proves it was chosen by someone holding a secret)."""
    if not header:
        return Verdict("not_authenticated", f"no Authorization header ({SCHEME} expected)")
    match = _HEADER.fullmatch(header)
    if match is None:
        return Verdict("not_authenticated", f"the Authorization header is not {SCHEME}")
    timestamp, nonce, sent = int(match[1]), match[2], match[3]
    message = canonical(method, path, contract, wanted, args_sha256, timestamp, nonce)
    if not any(hmac.compare_digest(signature(s, message), sent) for s in accepted):
        return Verdict(
            "bad_signature",
            "the signature does not match: the secrets differ or the call was changed on the way",
        )
    skew = (time.time() if now is None else now) - timestamp
    if abs(skew) > max_skew:
        return Verdict(
            "expired",
            f"the call was signed {skew:+.0f} s from this service's clock (at most {max_skew} s "
            "either way): check both clocks",
        )
    return Verdict("", "", nonce, timestamp)
