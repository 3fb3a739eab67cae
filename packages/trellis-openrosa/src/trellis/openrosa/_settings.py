"""Settings of trellis-openrosa, by the settings rule (environment, then Django setting).

Read on every request, so a test or an operator changing a variable is seen at once.
"""

from __future__ import annotations

import re

from trellis.core import ConfigurationError, read_setting

MiB = 1024 * 1024
DEFAULT_MAX_BODY = 10 * MiB
DEFAULT_REALM = "trellis"
NONCE_SECONDS = 300
"""How long a Digest nonce is good for; an older one gets a new challenge with stale=true."""
_SIZE = re.compile(r"[ \t]*([0-9]+)[ \t]*(|b|k|kb|kib|m|mb|mib|g|gb|gib)[ \t]*", re.I | re.ASCII)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}
_REALM = re.compile(r"[ !#-\[\]-~]{1,100}")  # printable ASCII but '"' and '\\'


def max_body() -> int:
    """``TRELLIS_OPENROSA_MAX_BODY`` (default 10 MiB): the largest submission request, sent to
    clients beforehand as ``X-OpenRosa-Accept-Content-Length`` (Collect splits its files into
    requests below it)."""
    value = read_setting("TRELLIS_OPENROSA_MAX_BODY")
    if value is None:
        return DEFAULT_MAX_BODY
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0:
        raise ConfigurationError(
            "TRELLIS_OPENROSA_MAX_BODY must be a positive number of bytes, optionally with a "
            f"unit such as '10MiB'; found {value!r}"
        )
    return int(match[1]) * _UNITS[match[2][:1].lower()]


def realm() -> str:
    """``TRELLIS_OPENROSA_REALM`` (default ``trellis``): the Digest realm. Digest credentials
    are recorded per realm: after a change, users must set their password again."""
    value = read_setting("TRELLIS_OPENROSA_REALM")
    if value is None:
        return DEFAULT_REALM
    if not isinstance(value, str) or not _REALM.fullmatch(value):
        raise ConfigurationError(
            "TRELLIS_OPENROSA_REALM must be 1 to 100 printable ASCII characters without '\"' "
            f"or '\\'; found {value!r}"
        )
    return value
