"""Copy blob content from one provider to another, resumably (``manage.py blobs_backfill``).

Used while ``TRELLIS_BLOBS_PROVIDER=migrating`` serves traffic (see
shared-docs/blobs-providers.md), and usable without Django's command machinery::

    from trellis.blobs.backfill import Backfill
    from trellis.blobs.migrating import load_migration

    backfill = Backfill(load_migration())
    report = backfill.run(jobs=4, on_progress=lambda report: print(report.done))
    report.copied, report.skipped, report.failed, report.failures

By default it walks the metadata table in key order: every blob the application knows is
copied and verified against the length and sha256 its row records, and a checkpoint (the last
key done, plus keys that failed) lets an interrupted run resume where it stopped. Content the
new provider already holds is read and checked the same way before it counts as skipped
(unless ``verify_existing=False``), so a damaged copy, such as one left by a run killed before
it could delete it, is replaced rather than trusted. ``source="scan"`` walks the old
provider's listing instead, for content stored without metadata (checked against the listed
length only); it cannot checkpoint (a listing has no order) and resumes by skipping what the
new provider already holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

from trellis.core import Host, get_host

from ._errors import BlobError, NotFound
from ._files import fsync_directory
from ._rows import batched, meta_model
from ._settings import setting
from .migrating import Migration

__all__ = [
    "BATCH_SIZE",
    "CHECKPOINT_EVERY",
    "Backfill",
    "BackfillInterrupted",
    "BackfillReport",
    "Checkpoint",
    "CheckpointError",
    "Item",
    "Outcome",
    "copy_blob",
    "default_checkpoint",
]

CHUNK = 1024 * 1024
BATCH_SIZE = 500
"""Metadata rows read per query (and old-provider listings looked up per query)."""
CHECKPOINT_EVERY = 2.0
"""Seconds between checkpoint writes (and at the end, on failure and on interruption)."""

Status = Literal["copied", "skipped", "failed", "damaged"]


class CheckpointError(BlobError):
    """A checkpoint file cannot be read, or belongs to another migration."""


@dataclass(frozen=True)
class Item:
    """One blob to copy, with what is known of its content (``None`` when unknown)."""

    key: str
    length: int | None
    sha256: str | None
    ordered: bool = True
    """Part of the key-ordered walk (not a retry of an earlier failure, not a scan)."""
    metadata: bool = True
    """``length`` and ``sha256`` come from a metadata row; else ``length`` is the old provider's
    listing and ``sha256`` is ``None``."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one :class:`Item`.

    ``"damaged"`` is transient: the new provider holds content that does not match, and the
    main thread decides (after checking the metadata again) whether to replace it.
    """

    status: Status
    reason: str = ""
    size: int = 0
    replaced: str = ""
    """Why a copy in the new provider was deleted and copied again (empty: it was not)."""


@dataclass
class BackfillReport:
    """The running totals of a :class:`Backfill`, and its result."""

    copied: int = 0
    skipped: int = 0
    failed: int = 0
    size: int = 0
    """Bytes copied."""
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)
    """Key -> reason, for every blob that failed."""
    replaced: dict[str, str] = field(default_factory=dict)
    """Key -> what was wrong, for every damaged copy in the new provider that was replaced."""
    checkpoint: Path | None = None

    @property
    def done(self) -> int:
        return self.copied + self.skipped + self.failed


class BackfillInterrupted(KeyboardInterrupt):
    """A :class:`KeyboardInterrupt` stopped :meth:`Backfill.run`; the checkpoint was saved.

    ``report`` holds what was done until then.
    """

    def __init__(self, report: BackfillReport) -> None:
        super().__init__("backfill interrupted")
        self.report = report


class _Hashing:
    """Reads a stream for a provider's ``blobs_write``, counting and hashing on the way."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        data = self._stream.read(size)
        if data:
            self._hash.update(data)
            self.count += len(data)
        return data or b""

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class Checkpoint:
    """The progress of a metadata-driven backfill, in a small JSON file.

    ``last_key``: every blob up to this key (in key order) has been handled; ``failed``: keys
    that failed, retried first by the next run. Written atomically and durably (temporary file,
    fsync, rename, fsync of the directory).
    """

    def __init__(self, path: Path, migration: Migration) -> None:
        self.path = path
        self.migration = migration
        self.last_key: str | None = None
        self.failed: dict[str, str] = {}

    def load(self) -> bool:
        """Read the file if there is one; ``True`` if it was read.

        :raises CheckpointError: the file is not a checkpoint, or one of another migration.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            data = f"{type(exc).__name__}: {exc}"
        if not isinstance(data, dict):
            problem = data if isinstance(data, str) else "not a JSON object"
            raise CheckpointError(
                f"cannot read the checkpoint {self.path} ({problem}); fix or delete it, or "
                "run with --restart"
            )
        if (data.get("from"), data.get("to")) != (self.migration.old, self.migration.new):
            raise CheckpointError(
                f"the checkpoint {self.path} belongs to a backfill from {data.get('from')!r} to "
                f"{data.get('to')!r}, not {self.migration.old!r} to {self.migration.new!r}; "
                "pass another --checkpoint or run with --restart"
            )
        self.last_key = data.get("last_key")
        self.failed = dict(data.get("failed") or {})
        return True

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "from": self.migration.old,
            "to": self.migration.new,
            "last_key": self.last_key,
            "failed": self.failed,
            "updated": datetime.now(UTC).isoformat(),
        }
        # Durably: a crash, power loss included, leaves the old checkpoint or the new one.
        temp = self.path.with_name(self.path.name + ".tmp")
        with open(temp, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, indent=1) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, self.path)
        fsync_directory(self.path.parent)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def default_checkpoint(migration: Migration) -> Path:
    """``<data dir>/blobs-backfill/<old>-to-<new>.json``; the data dir as the filesystem
    provider finds it (``TRELLIS_DATA_DIR`` by the settings rule, else ``./var``)."""
    data_dir = setting("TRELLIS_DATA_DIR")
    base = Path(str(data_dir)) if data_dir else Path("var")
    name = f"{migration.old}-to-{migration.new}.json"
    return (base / "blobs-backfill" / name).absolute()


class Backfill:
    """One backfill from ``migration.old`` to ``migration.new``; :meth:`run` does the work.

    :param source: ``"metadata"`` (every row of the metadata table in key order, resumable
        from a checkpoint) or ``"scan"`` (everything the old provider lists; no checkpoint).
    :param checkpoint: the checkpoint file of a metadata walk (default
        :func:`default_checkpoint`); read here, so :attr:`resumed` and :meth:`remaining`
        reflect it.
    :param restart: delete an existing checkpoint here instead of resuming from it.
    :raises CheckpointError: see :meth:`Checkpoint.load`.
    """

    def __init__(
        self,
        migration: Migration,
        *,
        host: Host | None = None,
        source: Literal["metadata", "scan"] = "metadata",
        checkpoint: Path | None = None,
        restart: bool = False,
    ) -> None:
        if source not in ("metadata", "scan"):
            raise ValueError(f"source must be 'metadata' or 'scan'; got {source!r}")
        self.migration = migration
        self.host = host if host is not None else get_host()
        self.checkpoint: Checkpoint | None = None
        self.resumed = False
        """An existing checkpoint was read: the walk resumes after ``checkpoint.last_key``,
        retrying ``checkpoint.failed`` first."""
        if source == "metadata":
            self.checkpoint = Checkpoint(checkpoint or default_checkpoint(migration), migration)
            if restart:
                self.checkpoint.remove()
            else:
                self.resumed = self.checkpoint.load()

    def remaining(self) -> int | None:
        """How many blobs a metadata walk has left (``None`` for a scan: unknown in advance)."""
        if self.checkpoint is None:
            return None
        rows = meta_model().objects.all()
        if self.checkpoint.last_key is not None:
            rows = rows.filter(key__gt=self.checkpoint.last_key)
        return rows.count() + len(self.checkpoint.failed)

    def run(
        self,
        *,
        jobs: int = 4,
        limit: int | None = None,
        read_back: bool = False,
        verify_existing: bool = True,
        on_progress: Callable[[BackfillReport], None] | None = None,
    ) -> BackfillReport:
        """Copy every blob the new provider lacks or holds damaged; return the totals.

        The checkpoint is saved every :data:`CHECKPOINT_EVERY` seconds and when the run ends
        however it ends, and removed once a walk without ``limit`` finishes with no failure.

        :param jobs: blobs copied at once, in worker threads (database access stays in this
            thread).
        :param limit: stop after this many blobs; the checkpoint lets the next run continue.
        :param read_back: also read every copy this run makes back from the new provider and
            compare it with what was read from the old one.
        :param verify_existing: read content the new provider already holds and check it
            against the metadata before counting it skipped; a copy that does not match is
            deleted and copied again. ``False`` trusts it after an existence check.
        :param on_progress: called in this thread with the running totals after each blob.
        :raises BackfillInterrupted: on :class:`KeyboardInterrupt`, with the totals so far.
        """
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1; got {jobs}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1; got {limit}")
        checkpoint = self.checkpoint
        report = BackfillReport(checkpoint=checkpoint.path if checkpoint else None)
        items = self._from_metadata(checkpoint) if checkpoint else self._from_scan()
        started = last_save = time.monotonic()

        def attempt(item: Item) -> Outcome:
            return _attempt(
                self.host, self.migration, item, read_back=read_back, verify=verify_existing
            )

        try:
            for item, outcome in _map_ordered(attempt, items, jobs=jobs, limit=limit):
                outcome = self._settle(item, outcome, read_back=read_back)
                _count(report, item, outcome)
                if checkpoint is not None:
                    if outcome.status == "failed":
                        checkpoint.failed[item.key] = outcome.reason
                    else:
                        checkpoint.failed.pop(item.key, None)
                    if item.ordered:
                        checkpoint.last_key = item.key
                    if time.monotonic() - last_save >= CHECKPOINT_EVERY:
                        checkpoint.save()
                        last_save = time.monotonic()
                if on_progress is not None:
                    on_progress(report)
        except KeyboardInterrupt as exc:
            raise BackfillInterrupted(report) from exc
        finally:
            report.seconds = time.monotonic() - started
            if checkpoint is not None:
                checkpoint.save()
        if checkpoint is not None and not report.failed and limit is None:
            checkpoint.remove()
        return report

    def _settle(self, item: Item, outcome: Outcome, *, read_back: bool) -> Outcome:
        """Decide about damaged copies, and account for blobs deleted while being copied."""
        if outcome.status == "damaged":
            return self._repair(item, outcome, read_back=read_back)
        if self.checkpoint is None or outcome.status == "skipped":
            return outcome
        if meta_model().objects.filter(key=item.key).exists():
            return outcome
        if outcome.status == "copied":  # deleted meanwhile: do not leave an orphan behind
            self.host.call_provider(self.migration.new, "blobs_delete", key=item.key)
        return Outcome("skipped", "deleted while the backfill ran")

    def _repair(self, item: Item, damaged: Outcome, *, read_back: bool) -> Outcome:
        """Replace a copy in the new provider that does not match the metadata.

        The row is read again first: the copy may be right and the walk's reading of the row
        stale (the blob deleted, or deleted and stored again, since), and content the
        application stored meanwhile is kept. Content without metadata (a scan) is left as it
        is: nothing tells which of the two is right.
        """
        host, new = self.host, self.migration.new
        if not item.metadata:
            return Outcome(
                "failed",
                f"{damaged.reason}; without metadata it is unknown which content is right, so "
                f"neither was changed: delete the wrong one",
            )
        row = meta_model().objects.filter(key=item.key).values_list("length", "sha256").first()
        if row is None:
            return Outcome("skipped", "deleted while the backfill ran")
        current = Item(item.key, row[0], row[1], ordered=item.ordered)
        if row != (item.length, item.sha256):  # stored again: check against the new row
            damaged = _attempt(host, self.migration, current, read_back=read_back, verify=True)
            if damaged.status != "damaged":
                return damaged
        try:
            host.call_provider(new, "blobs_delete", key=item.key)
        except Exception as exc:
            return Outcome(
                "failed", f"{damaged.reason}; deleting it failed ({type(exc).__name__}: {exc})"
            )
        copy = _attempt(host, self.migration, current, read_back=read_back, verify=False)
        if copy.status == "failed":
            return Outcome("failed", f"{copy.reason}; the damaged copy in {new!r} was deleted")
        return Outcome(copy.status, copy.reason, copy.size, replaced=damaged.reason)

    @staticmethod
    def _from_metadata(checkpoint: Checkpoint) -> Iterator[Item]:
        """Earlier failures first, then every row after the checkpoint in key order.

        Keyset pagination (``key > last``), so each batch is one indexed query however far in.
        """
        model = meta_model()
        for keys in batched(sorted(checkpoint.failed), BATCH_SIZE):
            rows = model.objects.filter(key__in=keys).order_by("key")
            for key, length, sha256 in rows.values_list("key", "length", "sha256"):
                yield Item(key, length, sha256, ordered=False)
            # failed keys whose rows are gone no longer need copying
            for key in set(keys) - set(rows.values_list("key", flat=True)):
                checkpoint.failed.pop(key, None)
        last = checkpoint.last_key
        while True:
            rows = model.objects.order_by("key")
            if last is not None:
                rows = rows.filter(key__gt=last)
            batch = list(rows.values_list("key", "length", "sha256")[:BATCH_SIZE])
            for key, length, sha256 in batch:
                yield Item(key, length, sha256)
            if len(batch) < BATCH_SIZE:
                return
            last = batch[-1][0]

    def _from_scan(self) -> Iterator[Item]:
        """Everything the old provider lists; checked against metadata where a row exists."""
        model = meta_model()
        listing = self.host.call_provider(self.migration.old, "blobs_scan")
        for blobs in batched(listing, BATCH_SIZE):
            rows = model.objects.filter(key__in=[b.key for b in blobs])
            known = {
                key: (length, sha256)
                for key, length, sha256 in rows.values_list("key", "length", "sha256")
            }
            for blob in blobs:
                if blob.key in known:
                    length, sha256 = known[blob.key]
                    yield Item(blob.key, length, sha256, ordered=False)
                else:
                    yield Item(blob.key, blob.length, None, ordered=False, metadata=False)


def _count(report: BackfillReport, item: Item, outcome: Outcome) -> None:
    if outcome.status == "copied":
        report.copied += 1
        report.size += outcome.size
    elif outcome.status == "skipped":
        report.skipped += 1
    else:
        report.failed += 1
        report.failures[item.key] = outcome.reason
    if outcome.replaced:
        report.replaced[item.key] = outcome.replaced


def copy_blob(
    host: Host, migration: Migration, item: Item, *, read_back: bool = False, verify: bool = True
) -> Outcome:
    """Copy one blob unless the new provider already has it; verify what was copied.

    With ``verify``, content the new provider already holds is read and checked against
    ``item``; if it does not match, the outcome is ``"damaged"`` and nothing is changed (the
    caller decides). Without it, any content there counts as ``"skipped"``.

    A copy that fails verification is deleted from the new provider, so a rerun retries it
    instead of finding it there. Runs in worker threads: no database access here.
    """
    key = item.key
    if verify:
        existing = _check_existing(host, migration, item)
        if existing is not None:
            return existing
    elif host.call_provider(migration.new, "blobs_exists", key=key):
        return Outcome("skipped", "already in the new provider")
    try:
        source = host.call_provider(migration.old, "blobs_open", key=key)
    except NotFound:
        return Outcome("failed", f"missing from both {migration.old!r} and {migration.new!r}")
    with source:
        reader = _Hashing(source)
        written = host.call_provider(migration.new, "blobs_write", key=key, stream=reader)
    problem = None
    if written != reader.count:
        problem = f"the new provider stored {written} bytes of the {reader.count} read"
    if problem is None:
        problem = _differs(item, "read", reader.count, reader.sha256, migration)
    if problem is None and read_back:
        problem = _read_back(host, migration.new, key, reader)
    if problem is not None:
        try:
            host.call_provider(migration.new, "blobs_delete", key=key)
        except Exception as exc:
            problem += f"; deleting the bad copy failed too ({type(exc).__name__}: {exc})"
        return Outcome("failed", problem)
    return Outcome("copied", size=reader.count)


def _check_existing(host: Host, migration: Migration, item: Item) -> Outcome | None:
    """Read what the new provider holds under the key; ``None`` if nothing."""
    try:
        stream = host.call_provider(migration.new, "blobs_open", key=item.key)
    except NotFound:
        return None
    with stream:
        reader = _Hashing(stream)
        reader.drain()
    problem = _differs(item, "has", reader.count, reader.sha256, migration)
    if problem is not None:
        return Outcome("damaged", f"the copy in {migration.new!r} {problem}")
    return Outcome("skipped", "already in the new provider, verified")


def _differs(item: Item, verb: str, count: int, sha256: str, migration: Migration) -> str | None:
    """How content of ``count`` bytes and ``sha256`` differs from ``item``; ``None``: it does
    not. ``verb`` starts the message: ``read 5 bytes; ...``, ``has 5 bytes; ...``."""
    expected = "the metadata records" if item.metadata else f"{migration.old!r} lists"
    if item.length is not None and count != item.length:
        return f"{verb} {count} bytes; {expected} {item.length}"
    if item.sha256 is not None and sha256 != item.sha256:
        noun = "content has" if verb == "read" else "has"
        return f"{noun} sha256 {sha256}; {expected} {item.sha256}"
    return None


def _read_back(host: Host, provider: str, key: str, written: _Hashing) -> str | None:
    with host.call_provider(provider, "blobs_open", key=key) as copy:
        reader = _Hashing(copy)
        reader.drain()
    if (reader.count, reader.sha256) != (written.count, written.sha256):
        return f"reading the copy back gave {reader.count} bytes, sha256 {reader.sha256}"
    return None


def _attempt(
    host: Host, migration: Migration, item: Item, *, read_back: bool, verify: bool
) -> Outcome:
    try:
        return copy_blob(host, migration, item, read_back=read_back, verify=verify)
    except Exception as exc:
        return Outcome("failed", f"{type(exc).__name__}: {exc}")


def _map_ordered(
    function: Callable[[Item], Outcome], items: Iterator[Item], *, jobs: int, limit: int | None
) -> Iterator[tuple[Item, Outcome]]:
    """``(item, function(item))`` in the order of ``items``, ``jobs`` at a time.

    With ``jobs == 1`` everything runs in this thread. Otherwise at most ``2 * jobs`` items
    are in flight and results come back in order, so the checkpoint only ever moves past
    blobs that are done. On an interruption the items not started are cancelled and the
    running copies finish; the checkpoint does not count them, so the next run finds them
    in the new provider instead of copying them again.
    """
    count = 0

    def limited() -> Iterator[Item]:
        nonlocal count
        for item in items:
            if limit is not None and count >= limit:
                return
            count += 1
            yield item

    if jobs == 1:
        for item in limited():
            yield item, function(item)
        return
    pending: deque[tuple[Item, Future[Outcome]]] = deque()
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="blobs-backfill") as pool:
        try:
            for item in limited():
                pending.append((item, pool.submit(function, item)))
                while pending and (len(pending) >= 2 * jobs or pending[0][1].done()):
                    head, future = pending.popleft()
                    yield head, future.result()
            while pending:
                head, future = pending.popleft()
                yield head, future.result()
        except BaseException:
            for _item, future in pending:
                future.cancel()
            raise
