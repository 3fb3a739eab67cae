"""Freshness probes of area ``reports``: from a committed submission to its effect in the API.

Each probe thread posts a submission with a village of its own (``probe-<thread>-<n>``), and
once the receiver answered ``201`` (the transaction has committed) polls
``GET /a/<domain>/api/reports/<slug>/?village=<that village>`` every ``POLL_S`` until the row
shows up. Freshness = first poll answer showing it - the 201's arrival (and, as an upper
bound, - the POST's start). Every socket has a timeout; errors are counted.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from bench.areas import _forms_payload as payload

POLL_S = 0.025
GIVE_UP_S = 30.0


@dataclass
class Probes:
    host: str
    port: int
    auth: str
    slug: str
    prefix: str
    threads: int = 3
    fresh_ms: list[float] = field(default_factory=list)
    fresh_from_send_ms: list[float] = field(default_factory=list)
    polls: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    posted: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [
            threading.Thread(target=self._work, args=(i,), daemon=True) for i in range(self.threads)
        ]

    def _count_error(self, what: str) -> None:
        with self._lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def probe_once(self, conn: http.client.HTTPConnection, tid: int, n: int) -> float | None:
        village = f"probe-{tid}-{n}"
        body = payload.body(f"{self.prefix}-p{tid}-{n}", f"{self.prefix}-pc{tid}-{n}", village, 3)
        headers = {"Content-Type": "application/json", "Authorization": self.auth}
        sent = time.monotonic()
        conn.request("POST", f"/a/{payload.DOMAIN}/receiver/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        committed = time.monotonic()
        if response.status != 201:
            self._count_error(f"post {response.status}")
            return None
        with self._lock:
            self.posted += 1
        query = urllib.parse.urlencode({"village": village})
        path = f"/a/{payload.DOMAIN}/api/reports/{self.slug}/?{query}"
        while True:
            conn.request("GET", path, headers={"Authorization": self.auth})
            response = conn.getresponse()
            text = response.read()
            seen = time.monotonic()
            with self._lock:
                self.polls += 1
            if response.status != 200:
                self._count_error(f"get {response.status}")
                return None
            if json.loads(text).get("rows"):
                with self._lock:
                    self.fresh_ms.append((seen - committed) * 1000)
                    self.fresh_from_send_ms.append((seen - sent) * 1000)
                return (seen - committed) * 1000
            if seen - committed > GIVE_UP_S:
                self._count_error(f"not visible after {GIVE_UP_S:.0f} s")
                return None
            time.sleep(POLL_S)

    def _work(self, tid: int) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        n = 0
        rng = random.Random(tid)
        while not self._stop.is_set():
            n += 1
            try:
                self.probe_once(conn, tid, n)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self._count_error(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            self._stop.wait(rng.uniform(0.05, 0.2))
        conn.close()

    def start(self) -> Probes:
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=GIVE_UP_S + 15)


def report_total(host: str, port: int, auth: str, slug: str) -> int:
    """Sum of the report's ``visits`` over every row (paging through the API)."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    total, offset = 0, 0
    try:
        while True:
            conn.request(
                "GET",
                f"/a/{payload.DOMAIN}/api/reports/{slug}/?limit=1000&offset={offset}",
                headers={"Authorization": auth},
            )
            response = conn.getresponse()
            body = json.loads(response.read())
            if response.status != 200:
                raise RuntimeError(f"report API answered {response.status}: {body}")
            total += sum(int(r["visits"]) for r in body["rows"])
            offset += len(body["rows"])
            if not body.get("next") or not body["rows"]:
                return total
    finally:
        conn.close()
