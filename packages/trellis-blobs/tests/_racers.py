"""A worker process for ``test_concurrency.py``: runs blob operations when the test says so.

Run as a script (``python _racers.py``) with ``DJANGO_SETTINGS_MODULE`` pointing at settings
that share one database and one blob store with the other worker. It speaks JSON lines: one
command per line on stdin, one answer per line on its own copy of stdout (``sys.stdout`` goes
to stderr, so nothing Django prints can corrupt the protocol).

A worker that reaches a synchronisation point writes ``{"event": name}`` and blocks reading
stdin until the test writes ``go``: the test holds both workers at such a barrier and then
releases them together, or lets one run while the other is held.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sys
import traceback
from datetime import timedelta
from typing import IO, Any

OUT = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
sys.stdout = sys.stderr

import django  # noqa: E402 - after the protocol's stdout is set aside

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from trellis import blobs  # noqa: E402
from trellis.blobs.models import BlobMeta  # noqa: E402

FIELDS = {"domain": "race", "type_code": 7, "content_type": "application/octet-stream"}


class Logged(logging.Handler):
    """Collects warnings and errors logged anywhere (a failed content delete, say)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


LOGGED = Logged()
logging.getLogger().addHandler(LOGGED)


def send(message: dict[str, Any]) -> None:
    OUT.write(json.dumps(message) + "\n")


def sync(event: str) -> None:
    """Tell the test we reached ``event``; block until it says ``go``."""
    send({"event": event})
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise RuntimeError(f"expected 'go' after {event!r}; got {line!r}")


def content_for(tag: str, size: int) -> bytes:
    """``size`` bytes that differ for every ``tag`` (each racer stores its own content)."""
    block = hashlib.sha512(tag.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def error(exc: BaseException) -> dict[str, Any]:
    return {
        "ok": False,
        "error": type(exc).__name__,
        "typed": isinstance(exc, blobs.BlobError),
        "message": str(exc),
        "traceback": traceback.format_exc(),
    }


class HeldAtEnd(io.RawIOBase):
    """The caller's content, which waits at the barrier before reporting its end.

    By then the provider has read (and, for the filesystem, written) every byte: both racers
    are past the metadata pre-check and inside the provider's write when they are released.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)
        self._held = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        if not chunk and not self._held:
            self._held = True
            sync("writing")
        buffer[: len(chunk)] = chunk
        return len(chunk)


def put(command: dict[str, Any]) -> dict[str, Any]:
    data = content_for(command["tag"], command["size"])
    content: bytes | IO[bytes] = data
    if command["barrier"] == "end":
        content = HeldAtEnd(data)
    else:
        sync("ready")
    try:
        info = blobs.put(
            content,
            key=command["key"],
            parent_id=command["tag"],
            name=f"{command['tag']}.bin",
            **FIELDS,
        )
    except Exception as exc:
        return {**error(exc), "sha256": hashlib.sha256(data).hexdigest()}
    return {"ok": True, "info": info_dict(info), "sha256": hashlib.sha256(data).hexdigest()}


def info_dict(info: blobs.BlobInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "domain": info.domain,
        "parent_id": info.parent_id,
        "type_code": info.type_code,
        "name": info.name,
        "length": info.length,
        "sha256": info.sha256,
    }


def verify(command: dict[str, Any]) -> dict[str, Any]:
    """Each key's metadata, and the sha256 and length of its content read back (verified)."""
    found = {}
    for key in command["keys"]:
        data = blobs.read_bytes(key)
        found[key] = {
            "info": info_dict(blobs.get_info(key)),
            "read_sha256": hashlib.sha256(data).hexdigest(),
            "read_length": len(data),
        }
    return {"ok": True, "blobs": found}


def seed(command: dict[str, Any]) -> dict[str, Any]:
    """Store ``count`` expired blobs under ``prefix`` and one that does not expire."""
    with transaction.atomic():
        for n in range(command["count"]):
            blobs.put(
                content_for(f"{command['prefix']}{n}", 64),
                key=f"{command['prefix']}{n}",
                parent_id="expired",
                expires=timedelta(seconds=-1 - n),
                **FIELDS,
            )
        blobs.put(b"keep me", key=command["keep"], parent_id="kept", **FIELDS)
    return {"ok": True}


def expire(command: dict[str, Any]) -> dict[str, Any]:
    """``manage.py blobs_expire``; optionally held at its first DELETE (its batch locked)."""
    held = []

    def hold_first_delete(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not held and sql.lstrip().upper().startswith("DELETE"):
            held.append(sql)
            sync("holding")  # inside the batch's transaction: its rows are locked
        return execute(sql, params, many, context)

    sync("ready")
    out = io.StringIO()
    try:
        if command.get("hold"):
            with connection.execute_wrapper(hold_first_delete):
                call_command("blobs_expire", batch_size=command["batch_size"], stdout=out)
        else:
            call_command("blobs_expire", batch_size=command["batch_size"], stdout=out)
    except Exception as exc:
        return error(exc)
    return {"ok": True, "output": out.getvalue().strip(), "held": bool(held)}


def read(command: dict[str, Any]) -> dict[str, Any]:
    """Read a blob whole, by one of the public ways; report what came back or what was raised.

    ``mode``: ``read_bytes``; ``stream`` (``open_blob``, 1 MiB chunks); ``held_stream`` (the
    same, held at the barrier after the first chunk); ``held_open`` (``get_info``, held at
    the barrier, then ``open_blob_from_info``, as the download view does).
    """
    from trellis.blobs.selectors import blob_open_from_info

    mode = command["mode"]
    if mode in {"read_bytes", "stream"}:
        sync("ready")
    received = 0
    digest = hashlib.sha256()
    try:
        if mode == "read_bytes":
            data = blobs.read_bytes(command["key"])
            received, digest = len(data), hashlib.sha256(data)
        else:
            if mode == "held_open":
                info = blobs.get_info(command["key"])
                sync("has-info")
                reader = blob_open_from_info(info)
            else:
                reader = blobs.open_blob(command["key"])
            with reader:
                while chunk := reader.read(1 << 20):
                    received += len(chunk)
                    digest.update(chunk)
                    if mode == "held_stream" and received == len(chunk):
                        sync("reading")
    except Exception as exc:
        return {**error(exc), "received": received}
    return {"ok": True, "received": received, "sha256": digest.hexdigest()}


def delete(command: dict[str, Any]) -> dict[str, Any]:
    if command.get("barrier", True):
        sync("ready")
    try:
        existed = blobs.delete(command["key"])
    except Exception as exc:
        return error(exc)
    return {"ok": True, "existed": existed}


def keys(command: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "keys": sorted(BlobMeta.objects.values_list("key", flat=True))}


def migrate(command: dict[str, Any]) -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    return {"ok": True}


def store(command: dict[str, Any]) -> dict[str, Any]:
    data = content_for(command["tag"], command["size"])
    info = blobs.put(data, key=command["key"], parent_id=command["tag"], **FIELDS)
    return {"ok": True, "info": info_dict(info)}


OPERATIONS = {
    "delete": delete,
    "expire": expire,
    "keys": keys,
    "migrate": migrate,
    "put": put,
    "read": read,
    "seed": seed,
    "store": store,
    "verify": verify,
}


def main() -> None:
    send({"event": "started", "pid": os.getpid()})
    for line in sys.stdin:
        command = json.loads(line)
        try:
            answer = OPERATIONS[command["op"]](command)
        except Exception as exc:  # an unexpected failure: report it, keep serving
            answer = error(exc)
        answer["logged"], LOGGED.messages[:] = list(LOGGED.messages), []
        send(answer)


if __name__ == "__main__":
    main()
