"""Settings of the blobs subsystem, by the settings rule: environment, then Django setting.

Read on every use (cheap next to any I/O), so a test or an operator changing a variable is
seen at once and nothing is frozen at import time. The provider choice
(``TRELLIS_BLOBS_PROVIDER``) is a host setting instead: read once per process.
"""

from __future__ import annotations

import re
from pathlib import Path

from trellis.core import ConfigurationError, read_setting

GiB = 1024**3
DEFAULT_MAX_SIZE = 5 * GiB
"""Default of ``TRELLIS_BLOBS_MAX_SIZE``: 5 GiB, the largest single S3 ``PutObject``."""

# ASCII: under Unicode case folding, "k" would also match the Kelvin sign and "i" the dotted I.
_SIZE = re.compile(
    r"[ \t]*([0-9]+)[ \t]*(|b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)[ \t]*", re.I | re.ASCII
)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": GiB, "t": 1024**4}


def setting(name: str) -> object | None:
    """``name`` by the one settings rule (:func:`trellis.core.read_setting`); ``None`` if unset.

    The environment variable (blank counts as unset), else the Django setting of the same name
    when Django is configured in this process, so providers work in scripts and contract
    suites without a Django project.
    """
    return read_setting(name)


def parse_size(value: object, name: str) -> int:
    """A byte count from an int or a string such as ``"512MiB"`` or ``"5 GiB"``.

    :raises ConfigurationError: naming the setting and the value seen.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ConfigurationError(f"{name} must not be negative; found {value!r}")
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigurationError(
            f"{name} must be a number of bytes, optionally with a unit such as '512MiB' or "
            f"'5GiB'; found {value!r}"
        )
    return int(match[1]) * _UNITS[match[2][:1].lower()]


def max_size() -> int:
    """``TRELLIS_BLOBS_MAX_SIZE``: the largest blob :func:`trellis.blobs.put` accepts (bytes)."""
    value = setting("TRELLIS_BLOBS_MAX_SIZE")
    return DEFAULT_MAX_SIZE if value is None else parse_size(value, "TRELLIS_BLOBS_MAX_SIZE")


def root_setting() -> tuple[str, str]:
    """``(configured root, where it came from)`` of the filesystem provider, unresolved.

    ``TRELLIS_BLOBS_ROOT``; else ``<TRELLIS_DATA_DIR>/blobs``; else ``var/blobs`` (relative to
    the working directory). Each is read by the settings rule.
    """
    root = setting("TRELLIS_BLOBS_ROOT")
    if root is not None:
        return str(root), "TRELLIS_BLOBS_ROOT"
    data_dir = setting("TRELLIS_DATA_DIR")
    if data_dir:
        return str(Path(str(data_dir), "blobs")), "TRELLIS_DATA_DIR"
    return str(Path("var", "blobs")), "the default root"


def filesystem_root() -> Path:
    """Where the filesystem provider keeps content, as an absolute path.

    A relative root (see :func:`root_setting`) is taken from the working directory, so a
    command run elsewhere would see another store: the system check warns about it, and the
    production profile (``TRELLIS_PROFILE=production``) refuses it.

    :raises ConfigurationError: a relative root under the production profile.
    """
    root, source = root_setting()
    path = Path(root).expanduser()
    if path.is_absolute():
        return path
    if setting("TRELLIS_PROFILE") == "production":
        raise ConfigurationError(
            relative_root_message(root, source) + "; the production profile refuses it"
        )
    return path.absolute()


def relative_root_message(root: str, source: str) -> str:
    """Why a relative blob root is a problem, naming the setting to fix."""
    setting_name = source if source.startswith("TRELLIS_") else "TRELLIS_BLOBS_ROOT"
    return (
        f"the filesystem blobs root {root!r} ({source}) is a relative path, so it depends on "
        f"the working directory: a command run elsewhere sees another, empty store; set "
        f"{setting_name} to an absolute path"
    )
