"""Settings of trellis-openrosa, by the settings rule (environment, then Django setting).

Read on every request, so a test or an operator changing a variable is seen at once.
"""

from __future__ import annotations

import re

from trellis.core import ConfigurationError, read_setting, read_size_setting

MiB = 1024 * 1024
DEFAULT_MAX_BODY = 10 * MiB
DEFAULT_REALM = "trellis"
NONCE_SECONDS = 300
"""How long a Digest nonce is good for; an older one gets a new challenge with stale=true."""
_REALM = re.compile(r"[ !#-\[\]-~]{1,100}")  # printable ASCII but '"' and '\\'


def max_body() -> int:
    """``TRELLIS_OPENROSA_MAX_BODY`` (default 10 MiB): the largest submission request, sent to
    clients beforehand as ``X-OpenRosa-Accept-Content-Length`` (Collect splits its files into
    requests below it)."""
    return read_size_setting("TRELLIS_OPENROSA_MAX_BODY", DEFAULT_MAX_BODY)


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
