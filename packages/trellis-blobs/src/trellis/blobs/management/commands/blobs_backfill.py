"""``manage.py blobs_backfill``: copy blob content from one provider to another, resumably.

Run while ``TRELLIS_BLOBS_PROVIDER=migrating`` serves traffic (see
shared-docs/blobs-providers.md). By default it walks the metadata table in key order: every
blob the application knows is copied, verified against the length and sha256 its row
records, and a checkpoint (the last key done, plus keys that failed) lets an interrupted run
resume where it stopped. ``--source scan`` walks the old provider's listing instead, for
content stored without metadata; it cannot checkpoint (a listing has no order) and resumes by
skipping what the new provider already holds.
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
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from trellis.core import ConfigurationError, Host, get_host

from ..._errors import NotFound
from ..._rows import batched, meta_model
from ...migrating import Migration, check_migration, load_migration

CHUNK = 1024 * 1024
BATCH_SIZE = 500
CHECKPOINT_EVERY = 2.0
"""Seconds between checkpoint writes (and at the end, on failure and on interruption)."""


@dataclass(frozen=True)
class Item:
    """One blob to copy, with what its metadata says about it (``None`` when unknown)."""

    key: str
    length: int | None
    sha256: str | None
    ordered: bool = True
    """Part of the key-ordered walk (not a retry of an earlier failure)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one :class:`Item`."""

    status: str  # "copied", "skipped" or "failed"
    reason: str = ""
    size: int = 0


@dataclass
class Totals:
    copied: int = 0
    skipped: int = 0
    failed: int = 0
    size: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.copied + self.skipped + self.failed


class _Verifier:
    """Reads the old provider's stream for the new one, counting and hashing on the way."""

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

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class Progress:
    """A self-updating status line on stderr; on a non-terminal, a line every 10 s."""

    def __init__(self, out: OutputWrapper, total: int | None, *, enabled: bool) -> None:
        self._out = out
        self._total = total
        self._enabled = enabled
        self._tty = out.isatty()
        self._interval = 0.1 if self._tty else 10.0
        self._start = self._last = time.monotonic()

    def update(self, totals: Totals, *, final: bool = False) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < self._interval:
            return
        self._last = now
        line = self._line(totals, now - self._start)
        if self._tty:
            self._out.write("\r" + line, ending="\n" if final else "")
        else:
            self._out.write(line)
        self._out.flush()

    def _line(self, totals: Totals, elapsed: float) -> str:
        done = totals.done
        if self._total:
            filled = min(20, done * 20 // self._total)
            head = (
                f"[{'#' * filled}{'.' * (20 - filled)}] {done * 100 // self._total:3d}% "
                f"{done}/{self._total}"
            )
        else:
            head = f"{done} blob(s)"
        rate = totals.size / elapsed / 2**20 if elapsed > 0 else 0.0
        return (
            f"{head}  copied {totals.copied}  skipped {totals.skipped}  failed {totals.failed}"
            f"  {totals.size / 2**20:.1f} MiB  {rate:.1f} MiB/s"
        )


class Checkpoint:
    """The progress of a metadata-driven backfill, in a small JSON file.

    ``last_key``: every blob up to this key (in key order) has been handled; ``failed``: keys
    that failed, retried first by the next run. Written atomically (temporary file, rename).
    """

    def __init__(self, path: Path, migration: Migration) -> None:
        self.path = path
        self.migration = migration
        self.last_key: str | None = None
        self.failed: dict[str, str] = {}

    def load(self) -> bool:
        """Read the file if there is one for this migration; ``True`` if it was read."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            data = f"{type(exc).__name__}: {exc}"
        if not isinstance(data, dict):
            problem = data if isinstance(data, str) else "not a JSON object"
            raise CommandError(
                f"cannot read the checkpoint {self.path} ({problem}); fix or delete it, or "
                "run with --restart"
            )
        if (data.get("from"), data.get("to")) != (self.migration.old, self.migration.new):
            raise CommandError(
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
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(temp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def default_checkpoint(migration: Migration) -> Path:
    """``<data dir>/blobs-backfill/<old>-to-<new>.json``; the data dir as the filesystem
    provider finds it (``TRELLIS_DATA_DIR`` setting, then environment, else ``./var``)."""
    data_dir = getattr(settings, "TRELLIS_DATA_DIR", None) or os.environ.get("TRELLIS_DATA_DIR")
    base = Path(str(data_dir)) if data_dir else Path("var")
    name = f"{migration.old}-to-{migration.new}.json"
    return (base / "blobs-backfill" / name).absolute()


def copy_blob(host: Host, migration: Migration, item: Item, *, read_back: bool) -> Outcome:
    """Copy one blob unless the new provider has it; verify what was copied.

    A copy that fails verification is deleted from the new provider, so a rerun retries it
    instead of skipping it. Runs in worker threads: no database access here.
    """
    key = item.key
    if host.call_provider(migration.new, "blobs_exists", key=key):
        return Outcome("skipped", "already in the new provider")
    try:
        source = host.call_provider(migration.old, "blobs_open", key=key)
    except NotFound:
        return Outcome("failed", f"missing from both {migration.old!r} and {migration.new!r}")
    with source:
        reader = _Verifier(source)
        written = host.call_provider(migration.new, "blobs_write", key=key, stream=reader)
    problem = _mismatch(item, reader, written)
    if problem is None and read_back:
        problem = _read_back(host, migration.new, key, reader)
    if problem is not None:
        try:
            host.call_provider(migration.new, "blobs_delete", key=key)
        except Exception as exc:
            problem += f"; deleting the bad copy failed too ({type(exc).__name__}: {exc})"
        return Outcome("failed", problem)
    return Outcome("copied", size=reader.count)


def _mismatch(item: Item, reader: _Verifier, written: int) -> str | None:
    if written != reader.count:
        return f"the new provider stored {written} bytes of the {reader.count} read"
    if item.length is not None and reader.count != item.length:
        return f"read {reader.count} bytes; the metadata records {item.length}"
    if item.sha256 is not None and reader.sha256 != item.sha256:
        return f"content has sha256 {reader.sha256}; the metadata records {item.sha256}"
    return None


def _read_back(host: Host, provider: str, key: str, reader: _Verifier) -> str | None:
    digest, count = hashlib.sha256(), 0
    with host.call_provider(provider, "blobs_open", key=key) as copy:
        while chunk := copy.read(CHUNK):
            digest.update(chunk)
            count += len(chunk)
    if (count, digest.hexdigest()) != (reader.count, reader.sha256):
        return f"reading the copy back gave {count} bytes, sha256 {digest.hexdigest()}"
    return None


class Command(BaseCommand):
    help = (
        "Copy blob content from the old provider to the new one of the migrating provider "
        "(TRELLIS_BLOBS_MIGRATE_FROM/TO), or --from X --to Y. Skips what the new provider "
        "already has, verifies every copy, and resumes from a checkpoint after an "
        "interruption. Exits 1 if any blob failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="old", metavar="PROVIDER", help="copy from")
        parser.add_argument("--to", dest="new", metavar="PROVIDER", help="copy to")
        parser.add_argument(
            "--source",
            choices=["metadata", "scan"],
            default="metadata",
            help=(
                "what to copy: every blob of the metadata table in key order, resumable from "
                "a checkpoint (default); or everything the old provider lists, metadata or "
                "not (no checkpoint: a rerun skips what was copied)"
            ),
        )
        parser.add_argument(
            "--checkpoint",
            type=Path,
            metavar="PATH",
            help="checkpoint file (default <TRELLIS_DATA_DIR>/blobs-backfill/<from>-to-<to>.json)",
        )
        parser.add_argument(
            "--restart", action="store_true", help="ignore (and replace) an existing checkpoint"
        )
        parser.add_argument(
            "--jobs", type=int, default=4, metavar="N", help="blobs copied at once (default 4)"
        )
        parser.add_argument(
            "--limit", type=int, metavar="N", help="stop after N blobs (resume later)"
        )
        parser.add_argument(
            "--read-back",
            action="store_true",
            help="also read every copy back from the new provider and compare its sha256",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        jobs: int = options["jobs"]
        limit: int | None = options["limit"]
        if jobs < 1:
            raise CommandError(f"--jobs must be at least 1; got {jobs}")
        if limit is not None and limit < 1:
            raise CommandError(f"--limit must be at least 1; got {limit}")
        host = get_host()
        migration = self._migration(host, options["old"], options["new"])
        by_metadata = options["source"] == "metadata"
        checkpoint: Checkpoint | None = None
        if by_metadata:
            checkpoint = Checkpoint(
                options["checkpoint"] or default_checkpoint(migration), migration
            )
            if options["restart"]:
                checkpoint.remove()
            elif checkpoint.load():
                retry = len(checkpoint.failed)
                self.stdout.write(
                    f"resuming from {checkpoint.path}: after key {checkpoint.last_key!r}"
                    + (f", retrying {retry} failed blob(s) first" if retry else "")
                )
            items = self._from_metadata(checkpoint)
            total: int | None = self._remaining(checkpoint)
        else:
            items = self._from_scan(host, migration)
            total = None
        if limit is not None and total is not None:
            total = min(total, limit)
        progress = Progress(self.stderr, total, enabled=not options["no_progress"])
        totals = Totals()
        started = time.monotonic()
        interrupted = False
        try:
            self._run(host, migration, items, totals, checkpoint, progress, jobs, limit, options)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if checkpoint is not None:
                checkpoint.save()
            progress.update(totals, final=True)
        self._report(migration, totals, checkpoint, time.monotonic() - started)
        if interrupted:
            raise CommandError(
                "interrupted; run blobs_backfill again to resume from the checkpoint",
                returncode=130,
            )
        if totals.failed:
            raise CommandError(
                f"{totals.failed} blob(s) failed to copy; fix the causes above and run "
                "blobs_backfill again (failed blobs are retried first)"
            )
        if checkpoint is not None and limit is None:
            checkpoint.remove()

    @staticmethod
    def _migration(host: Host, old: str | None, new: str | None) -> Migration:
        try:
            if old is None and new is None:
                return load_migration(host)
            if old is None or new is None:
                raise CommandError("give both --from and --to, or neither (to use the settings)")
            return check_migration(old, new, host=host, sources=("--from", "--to"))
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from None

    def _run(
        self,
        host: Host,
        migration: Migration,
        items: Iterator[Item],
        totals: Totals,
        checkpoint: Checkpoint | None,
        progress: Progress,
        jobs: int,
        limit: int | None,
        options: dict[str, Any],
    ) -> None:
        read_back: bool = options["read_back"]
        last_save = time.monotonic()
        for item, outcome in _map_ordered(
            lambda item: _attempt(host, migration, item, read_back=read_back),
            items,
            jobs=jobs,
            limit=limit,
        ):
            outcome = self._settle(host, migration, item, outcome, by_metadata=bool(checkpoint))
            if outcome.status == "copied":
                totals.copied += 1
                totals.size += outcome.size
            elif outcome.status == "skipped":
                totals.skipped += 1
            else:
                totals.failed += 1
                totals.failures[item.key] = outcome.reason
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
            progress.update(totals)

    @staticmethod
    def _settle(
        host: Host, migration: Migration, item: Item, outcome: Outcome, *, by_metadata: bool
    ) -> Outcome:
        """Account for blobs the application deleted while they were being copied."""
        if not by_metadata or outcome.status == "skipped":
            return outcome
        if meta_model().objects.filter(key=item.key).exists():
            return outcome
        if outcome.status == "copied":  # deleted meanwhile: do not leave an orphan behind
            host.call_provider(migration.new, "blobs_delete", key=item.key)
        return Outcome("skipped", "deleted while the backfill ran")

    @staticmethod
    def _remaining(checkpoint: Checkpoint) -> int:
        rows = meta_model().objects.all()
        if checkpoint.last_key is not None:
            rows = rows.filter(key__gt=checkpoint.last_key)
        return rows.count() + len(checkpoint.failed)

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

    @staticmethod
    def _from_scan(host: Host, migration: Migration) -> Iterator[Item]:
        """Everything the old provider lists; verified against metadata where a row exists."""
        model = meta_model()
        for blobs in batched(host.call_provider(migration.old, "blobs_scan"), BATCH_SIZE):
            rows = model.objects.filter(key__in=[b.key for b in blobs])
            known = {
                key: (length, sha256)
                for key, length, sha256 in rows.values_list("key", "length", "sha256")
            }
            for blob in blobs:
                length, sha256 = known.get(blob.key, (blob.length, None))
                yield Item(blob.key, length, sha256, ordered=False)

    def _report(
        self, migration: Migration, totals: Totals, checkpoint: Checkpoint | None, seconds: float
    ) -> None:
        self.stdout.write(
            f"{migration.old} -> {migration.new}: copied {totals.copied}, skipped "
            f"{totals.skipped}, failed {totals.failed} ({totals.size / 2**20:.1f} MiB in "
            f"{seconds:.1f} s)"
        )
        for key, reason in totals.failures.items():
            self.stdout.write(f"failed: {key}: {reason}")
        if checkpoint is not None:
            self.stdout.write(f"checkpoint: {checkpoint.path}")


def _attempt(host: Host, migration: Migration, item: Item, *, read_back: bool) -> Outcome:
    try:
        return copy_blob(host, migration, item, read_back=read_back)
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
    in the new provider and skips them.
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
