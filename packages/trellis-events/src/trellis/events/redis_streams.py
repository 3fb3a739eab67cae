"""Provider ``redis-streams`` of the ``events`` contract (entry point ``events-redis``).

Needs the ``redis`` extra. ``manage.py events_consume`` runs, in one loop:

* the **relay**: sequences the outbox, then ``XADD``\\ s rows past its checkpoint to the stream
  ``<prefix>:<topic>:<partition>`` (partition = ``crc32(key) % TRELLIS_EVENTS_PARTITIONS``,
  fixed at publish time) with the explicit entry id ``<position>-0``. Redis refuses an id not
  above the stream's last one, so a re-relay (a crash between ``XADD`` and the checkpoint, or
  two relays at once) adds nothing twice.
* the **consumers**: one consumer group per processor on each of its streams. A consumer owns
  a stream (for one processor) through a lease key (``SET NX PX``, renewed while it runs);
  only the owner reads it, so events of one key are handled in order while different
  partitions are handled by different processes in parallel. Consumers of a processor share
  its streams evenly: each registers in ``<prefix>:consumers:<processor>`` (a sorted set of
  last-seen times) and holds at most ``ceil(streams / live consumers)``, handing surplus
  leases back between batches when another consumer starts. A new owner first takes over
  the pending entries of the previous one (``XAUTOCLAIM``: the lease expiring is the idle
  timeout) and handles them before new entries. Entries are ``XACK``\\ ed only after the
  handler's work and the checkpoint committed; the checkpoint (in the database) filters
  out redeliveries of what already committed.

Every Redis call has a socket timeout (``TRELLIS_EVENTS_REDIS_TIMEOUT``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from trellis.core import hookimpl

from . import _settings
from ._errors import EventsError
from ._outbox import sequence
from ._processing import ALL, Stopped, checkpoint_position, handle, handled_through
from ._types import Event, Processor

if TYPE_CHECKING:
    import redis

    from .models import OutboxEvent

TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2"}
TRELLIS_PROVIDES = {"events": "redis-streams"}

RELAY = "_relay"
"""Processor name of the relay's checkpoint rows (partition: the key prefix)."""
RELAY_BATCH = 2000
ACQUIRE_EVERY = 1.0

log = logging.getLogger("trellis.events")

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def client() -> redis.Redis:
    """A client for ``TRELLIS_EVENTS_REDIS_URL`` with socket timeouts on every call."""
    import redis

    timeout = _settings.socket_timeout()
    return redis.Redis.from_url(
        _settings.redis_url(),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
    )


def stream_name(prefix: str, topic: str, partition: int) -> str:
    """The stream of ``topic``'s ``partition``: ``<prefix>:<topic>:<partition>``."""
    return f"{prefix}:{topic}:{partition}"


def relay(r: redis.Redis, *, limit: int = RELAY_BATCH) -> int:
    """Sequence the outbox and ``XADD`` up to ``limit`` rows past the relay's checkpoint.

    :return: the number of rows relayed (re-relayed duplicates included).
    """
    import redis

    from .models import Checkpoint, OutboxEvent

    prefix = _settings.redis_prefix()
    sequence(limit=limit)
    after = checkpoint_position(RELAY, prefix)
    marker = f"{prefix}:relayed"
    if after:
        seen: Any = r.get(marker)
        if seen is None or int(seen) < after:
            after = _relay_again(prefix, after, seen)
    rows = list(OutboxEvent.objects.filter(position__gt=after).order_by("position")[:limit])
    if not rows:
        return 0
    pipe = r.pipeline(transaction=False)
    for row in rows:
        pipe.xadd(
            stream_name(prefix, row.topic, row.partition),
            {
                "id": row.id,
                "topic": row.topic,
                "key": row.key,
                "payload": row.payload,
                "published_at": row.published_at.isoformat(),
                "partition": row.partition,
            },
            id=f"{row.position}-0",
        )
    # Redis keeps how far the relay got: a Redis that lost data (restarted without
    # persistence, flushed, restored from an older snapshot) shows it by a missing or lower
    # marker, and the next relay sends the lost range again (_relay_again).
    pipe.set(marker, str(rows[-1].position))
    for row, result in zip(rows, pipe.execute(raise_on_error=False)[:-1], strict=True):
        if isinstance(result, redis.ResponseError) and "equal or smaller" in str(result):
            _check_relayed(r, prefix, row)
        elif isinstance(result, Exception):
            raise result
    last = rows[-1].position
    assert last is not None
    updated = Checkpoint.objects.filter(
        processor=RELAY, partition=prefix, position__lt=last
    ).update(position=last)
    if not updated:
        Checkpoint.objects.get_or_create(
            processor=RELAY, partition=prefix, defaults={"position": last}
        )
    return len(rows)


def _relay_again(prefix: str, after: int, seen: object) -> int:
    """Redis lost entries the relay had sent: move the relay back to the lowest position some
    processor has not handled yet, and return it. Processors skip what their checkpoints
    passed, so relaying a little too much costs only time."""
    from ._registry import processors
    from .models import Checkpoint

    start = after
    for processor in processors().values():
        done = dict(
            Checkpoint.objects.filter(processor=processor.name).values_list("partition", "position")
        )
        inline = done.pop(ALL, 0)  # what the inline provider handled, before a switch
        through = handled_through(processor, {k: max(v, inline) for k, v in done.items()})
        if through is not None:
            start = min(start, max(through, inline))
    log.warning(
        "Redis has lost relayed events under %r (relayed up to position %s, Redis says %s): "
        "relaying again from position %s",
        prefix,
        after,
        seen if seen is not None else "nothing",
        start,
    )
    Checkpoint.objects.filter(processor=RELAY, partition=prefix).update(position=start)
    return start


def _check_relayed(r: redis.Redis, prefix: str, row: OutboxEvent) -> None:
    """A refused ``XADD``: fine if the entry is this row relayed before; otherwise the
    streams hold another outbox's entries (a database restored or replaced under the same
    prefix) and relaying on would silently drop events."""
    stream = stream_name(prefix, row.topic, row.partition)
    entry_id = f"{row.position}-0"
    found = r.xrange(stream, entry_id, entry_id)
    there = found[0][1] if found else None
    if there and str(there.get("id")) == str(row.id):
        return
    raise EventsError(
        f"stream {stream!r} already holds entries past {entry_id} that did not come from "
        f"outbox event {row.id} of this database (entry there: {there!r}); "
        "the streams under TRELLIS_EVENTS_REDIS_PREFIX were written from another database, or "
        "this one was restored from a backup. Set a new TRELLIS_EVENTS_REDIS_PREFIX (the "
        "relay then starts the streams afresh from this outbox) or delete the old streams"
    )


def _event(fields: dict[str, str], entry_id: str) -> Event:
    return Event(
        id=int(fields["id"]),
        topic=fields["topic"],
        key=fields["key"],
        payload=json.loads(fields["payload"]),
        published_at=datetime.fromisoformat(fields["published_at"]),
        position=int(entry_id.split("-", 1)[0]),
        partition=int(fields["partition"]),
    )


class Consumer:
    """One consumer process's state: its name, the streams it leases, what it has read."""

    def __init__(self, r: redis.Redis, processors: Sequence[Processor], stop: threading.Event):
        self.r = r
        self.processors = list(processors)
        self.stop = stop
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.prefix = _settings.redis_prefix()
        self.lease_ms = int(_settings.lease_seconds() * 1000)
        self.poll = _settings.poll_seconds()
        partitions = _settings.partitions()
        self.wanted = [
            (p, topic, n, stream_name(self.prefix, topic, n))
            for p in self.processors
            for topic in p.topics
            for n in range(partitions)
        ]
        self.held: dict[tuple[str, str], float] = {}
        self.backlog: set[tuple[str, str]] = set()  # streams whose own pending come first
        self.last_acquire = 0.0
        self.balance = True
        """Hold only an even share of each processor's streams (off for ``--once``)."""

    def lease_key(self, processor: str, stream: str) -> str:
        return f"{self.prefix}:lease:{processor}:{stream}"

    def leases(self) -> None:
        """Renew held leases a third of the way through; try to take free ones every second."""
        now = time.monotonic()
        for (name, stream), renewed in list(self.held.items()):
            if now - renewed >= self.lease_ms / 3000:
                key = self.lease_key(name, stream)
                if self.r.eval(_RENEW, 1, key, self.name, self.lease_ms):
                    self.held[(name, stream)] = now
                else:
                    log.warning("lost the lease of %s for %s", stream, name)
                    del self.held[(name, stream)]
        if now - self.last_acquire < ACQUIRE_EVERY:
            return
        self.last_acquire = now
        shares = {p.name: self.share(p.name) for p in self.processors}
        if not self.balance:  # --once: catch up on every free stream, whoever else is alive
            shares = {name: len(self.wanted) for name in shares}
        for name, stream in self.surplus(shares):
            self.give_up(name, stream)
        for processor, _topic, _n, stream in self.wanted:
            if (processor.name, stream) in self.held:
                continue
            if sum(1 for p, _ in self.held if p == processor.name) >= shares[processor.name]:
                continue
            key = self.lease_key(processor.name, stream)
            if not self.r.set(key, self.name, nx=True, px=self.lease_ms):
                continue
            self.group(processor.name, stream)
            claimed = self.claim(processor.name, stream)
            if claimed:
                log.info(
                    "took over %d pending entries of %s for %s", claimed, stream, processor.name
                )
            self.held[(processor.name, stream)] = time.monotonic()
            self.backlog.add((processor.name, stream))

    def group(self, processor: str, stream: str) -> None:
        """Create ``processor``'s consumer group on ``stream`` (and the stream) if missing."""
        import redis

        try:
            self.r.xgroup_create(stream, processor, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def members_key(self, processor: str) -> str:
        return f"{self.prefix}:consumers:{processor}"

    def share(self, processor: str) -> int:
        """How many of ``processor``'s streams this consumer may hold: an even share among its
        live consumers (seen within a few seconds, by the Redis server's clock), so that
        partitions are handled by several processes in parallel."""
        seconds, micros = self.r.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        alive_ms = max(self.lease_ms, int(3000 * ACQUIRE_EVERY))
        key = self.members_key(processor)
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(key, {self.name: now_ms})
        pipe.zremrangebyscore(key, "-inf", now_ms - alive_ms)
        pipe.zcard(key)
        pipe.pexpire(key, alive_ms * 2)
        live = int(pipe.execute()[2])
        streams = sum(1 for p, *_ in self.wanted if p.name == processor)
        return -(-streams // max(1, live))

    def surplus(self, shares: dict[str, int]) -> list[tuple[str, str]]:
        """Held leases beyond each processor's share, to hand to a consumer that has fewer."""
        extra: list[tuple[str, str]] = []
        for name, share in shares.items():
            mine = sorted(stream for p, stream in self.held if p == name)
            extra.extend((name, stream) for stream in mine[share:])
        return extra

    def give_up(self, processor: str, stream: str) -> None:
        """Release one lease between batches (everything read from it is acknowledged)."""
        self.r.eval(_RELEASE, 1, self.lease_key(processor, stream), self.name)
        del self.held[(processor, stream)]
        self.backlog.discard((processor, stream))
        log.info("handed %s for %s over to another consumer", stream, processor)

    def claim(self, processor: str, stream: str) -> int:
        """Take over every pending entry of ``stream`` in group ``processor``: we hold the lease,
        so whoever read them before has died or lost it."""
        start, claimed = "0-0", 0
        while True:
            answer = self.r.xautoclaim(stream, processor, self.name, 0, start_id=start, count=500)
            start, ids = answer[0], answer[1]
            claimed += len(ids)
            if start in ("0-0", b"0-0"):
                return claimed

    def release(self) -> None:
        for processor, stream in list(self.held):
            try:
                self.r.eval(_RELEASE, 1, self.lease_key(processor, stream), self.name)
            except Exception:  # the lease expires by itself
                log.warning("could not release the lease of %s", stream, exc_info=True)
        self.held.clear()
        for member in self.processors:
            try:
                self.r.zrem(self.members_key(member.name), self.name)
            except Exception:  # its entry ages out by itself
                log.warning("could not unregister consumer %s", self.name, exc_info=True)

    def read(self, processor: Processor) -> int:
        """Read and handle one batch from each held stream of ``processor``; the count read."""
        import redis

        streams: dict[Any, Any] = {
            s: ("0" if (processor.name, s) in self.backlog else ">")
            for (p, s) in self.held
            if p == processor.name
        }
        if not streams:
            return 0
        try:
            answer: Any = self.r.xreadgroup(
                processor.name, self.name, streams, count=processor.batch_size
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis lost the groups (and streams): make them again, and re-read from the start;
            # the relay sends the lost entries again and the checkpoint skips what was done.
            for stream in streams:
                self.group(processor.name, stream)
                self.backlog.add((processor.name, stream))
            return 0
        seen = 0
        for stream, entries in answer or []:
            if not entries and streams[stream] == "0":
                self.backlog.discard((processor.name, stream))
                continue
            seen += len(entries)
            self.handle(processor, stream, entries)
        return seen

    def handle(
        self, processor: Processor, stream: str, entries: list[tuple[str, dict[str, str] | None]]
    ) -> None:
        ids = [entry_id for entry_id, _ in entries]
        events = [_event(fields, entry_id) for entry_id, fields in entries if fields]
        topic_partition = stream[len(self.prefix) + 1 :]
        if events:
            handle(processor, topic_partition, events, should_stop=self.stop.is_set)
        self.r.xack(stream, processor.name, *ids)

    def run(self, once: bool) -> int:
        handled = 0
        caught_up = False
        while not self.stop.is_set():
            try:
                relayed = relay(self.r)
                self.leases()
                caught_up = not self.backlog  # every read below asks for new entries
                seen = 0
                for processor in self.processors:
                    seen += self.read(processor)
                handled += seen
            except Stopped:
                break
            except Exception:
                if once:
                    raise
                log.exception("events consumer %s: step failed; retrying", self.name)
                self.backlog.update(self.held)  # re-read what we hold but did not acknowledge
                self.stop.wait(1.0)
                continue
            if once and caught_up and not relayed and not seen:
                break
            if not relayed and not seen:
                self.stop.wait(self.poll)
        return handled


@hookimpl
def events_notify(event_id: int) -> bool:
    return False  # the relay in events_consume picks committed rows up


@hookimpl
def events_consume(processors: Sequence[Processor], stop: threading.Event, once: bool) -> int:
    consumer = Consumer(client(), processors, stop)
    if once:
        consumer.last_acquire = -ACQUIRE_EVERY  # take the leases in the first step
        consumer.balance = False
    try:
        return consumer.run(once)
    finally:
        consumer.release()
        consumer.r.close()
