"""Load generators of areas ``forms`` and ``reports``: ``wrk`` (closed loop, saturating) with a
Lua script, and a paced Python generator (open loop, a fixed offered rate).

Both post :mod:`bench.areas._forms_payload` bodies with unique submission ids (a run prefix,
the thread and a counter) and a case id out of ``CASES`` per thread (so the first submissions
create cases and later ones update them), ``Authorization: ApiKey <user>:<key>``, keep-alive
connections and a timeout on every socket; every response is checked for ``201`` and the
others are counted by status.
"""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.areas import _forms_payload as payload

CASES = 200

LUA = r"""
local threads = {}
local next_tid = 0
function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end
function init(args)
  n, ok, other, codes = 0, 0, 0, ""
end
local villages = {VILLAGES}
function request()
  n = n + 1
  local sid = PREFIX .. "-" .. tid .. "-" .. n
  local case_id = PREFIX .. "-c" .. tid .. "-" .. (n % CASES)
  local body = string.format(TEMPLATE, sid, case_id, villages[(n % #villages) + 1], (n % 9) + 1)
  return wrk.format("POST", PATH, HEADERS, body)
end
function response(status, headers, body)
  if status == 201 then
    ok = ok + 1
  else
    other = other + 1
    if #codes < 400 then codes = codes .. status .. " " end
  end
end
function done(summary, latency, requests)
  local ok_all, other_all, codes_all = 0, 0, ""
  for _, t in ipairs(threads) do
    ok_all = ok_all + t:get("ok")
    other_all = other_all + t:get("other")
    codes_all = codes_all .. t:get("codes")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"ok":%d,"other":%d,' ..
    '"codes":"%s","connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    ok_all, other_all, codes_all, e.connect, e.read, e.write, e.timeout))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here (ASCII)


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


@dataclass
class LoadResult:
    """One load run: responses per second, latency percentiles, what was not a 201."""

    rate: float
    p50_ms: float
    p99_ms: float
    ok: int
    errors: int
    detail: dict[str, Any] = field(default_factory=dict)


def wrk(
    base_url: str,
    *,
    domain: str,
    auth: str,
    prefix: str,
    seconds: float,
    connections: int = 16,
    threads: int = 2,
    timeout_s: int = 10,
) -> LoadResult:
    """``wrk`` posting to ``<base_url>/a/<domain>/receiver/`` for ``seconds``."""
    path = f"/a/{domain}/receiver/"
    headers = {"Content-Type": "application/json", "Authorization": auth}
    lua = (
        f"PREFIX = {_lua_string(prefix)}\nCASES = {CASES}\nPATH = {_lua_string(path)}\n"
        f"TEMPLATE = {_lua_string(payload.lua_template())}\n"
        "HEADERS = {"
        + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
        + "}\n"
        + LUA.replace("{VILLAGES}", "{" + ", ".join(_lua_string(v) for v in payload.VILLAGES) + "}")
    )
    return run_wrk(
        lua,
        base_url + path,
        seconds=seconds,
        connections=connections,
        threads=threads,
        timeout_s=timeout_s,
    )


def run_wrk(
    lua: str, url: str, *, seconds: float, connections: int, threads: int, timeout_s: int
) -> LoadResult:
    """Run ``wrk`` with the Lua script ``lua`` (which prints a ``BENCH_JSON`` line at its end)
    against ``url``; the load's result."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        proc = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                f"--timeout={timeout_s}s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + timeout_s + 60,
            check=False,
        )
    finally:
        Path(script.name).unlink()
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    out = json.loads(line.removeprefix("BENCH_JSON "))
    socket_errors = out["connect"] + out["read"] + out["write"] + out["timeout"]
    return LoadResult(
        rate=out["requests"] / (out["duration_us"] / 1e6),
        p50_ms=out["p50_us"] / 1000,
        p99_ms=out["p99_us"] / 1000,
        ok=out["ok"],
        errors=out["other"] + socket_errors,
        detail=out,
    )


class PacedLoad:
    """Posts at ``rate`` submissions/s from ``workers`` threads (one keep-alive connection
    each, reconnecting after an error) until :meth:`stop`; open loop: the send times are fixed
    in advance, a late sender catches up, latency is measured from the scheduled time."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        domain: str,
        auth: str,
        prefix: str,
        rate: float,
        workers: int = 16,
        timeout_s: float = 10.0,
    ) -> None:
        self.host, self.port, self.domain, self.auth, self.prefix = host, port, domain, auth, prefix
        self.rate, self.timeout_s = rate, timeout_s
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self._threads = [
            threading.Thread(target=self._work, args=(i,), daemon=True) for i in range(workers)
        ]
        self.started = 0.0
        self.stopped = 0.0
        self.last_done = 0.0

    def start(self) -> PacedLoad:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5)
        self.stopped = time.monotonic()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def _work(self, tid: int) -> None:
        conn = self._connect()
        path = f"/a/{self.domain}/receiver/"
        headers = {"Content-Type": "application/json", "Authorization": self.auth}
        n = 0
        while not self._stop.is_set():
            with self._lock:
                slot = self._next
                self._next += 1
            due = self.started + slot / self.rate
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            n += 1
            village = payload.VILLAGES[slot % len(payload.VILLAGES)]
            data = payload.body(
                f"{self.prefix}-{tid}-{n}", f"{self.prefix}-c{tid}-{n % CASES}", village, n % 9 + 1
            )
            try:
                conn.request("POST", path, body=data, headers=headers)
                response = conn.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = self._connect()
            done = time.monotonic()
            elapsed = (done - due) * 1000
            with self._lock:
                self.last_done = max(self.last_done, done)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == "201":
                    self.latencies.append(elapsed)
        conn.close()

    def result(self) -> LoadResult:
        ok = self.statuses.get("201", 0)
        total = sum(self.statuses.values())
        cuts = statistics.quantiles(self.latencies, n=100) if len(self.latencies) > 1 else [0] * 99
        return LoadResult(
            rate=total / max(self.last_done - self.started, 1e-9),
            p50_ms=cuts[49],
            p99_ms=cuts[98],
            ok=ok,
            errors=total - ok,
            detail={"statuses": dict(self.statuses)},
        )
