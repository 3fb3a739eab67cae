"""Load generators of area ``openrosa``: ``wrk`` posting multipart submissions (OpenRosa XML or
the JSON envelope, plus the 100 KiB image) built per request by a Lua script, and a small
sequential Python client (``requests``) for the authentication diagnostic.

The Lua script builds every body as ``<first part, formatted with a unique submission id>``
+ ``<image part>`` + closing boundary; the image is read once per wrk thread from a file. Ids
are ``uuid:<run prefix>-<thread>-<counter>``. Results are read and reported like area
``forms``' (:class:`bench.areas._forms_load.LoadResult`: only ``201`` counts as success).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.areas import _openrosa_payload as payload
from bench.areas._forms_load import LUA as FORMS_LUA
from bench.areas._forms_load import LoadResult, run_wrk

# The forms area's script, with a request() of our own: the setup/response/done functions
# (thread ids, counting 201s and the other statuses, the BENCH_JSON summary) are reused.
_FORMS_REQUEST = FORMS_LUA[FORMS_LUA.index("local villages") : FORMS_LUA.index("function response")]

_REQUEST = r"""
local villages = {VILLAGES}
local image_tail
function request()
  if image_tail == nil then
    local f = assert(io.open(IMAGE_PATH, "rb"))
    image_tail = TAIL_HEAD .. f:read("*a") .. CLOSE
    f:close()
  end
  n = n + 1
  local sid = PREFIX .. "-" .. tid .. "-" .. n
  local village = villages[(n % #villages) + 1]
  local size = (n % 9) + 1
  local body = string.format(TEMPLATE, {ARGS}) .. image_tail
  return wrk.format("POST", PATH, HEADERS, body)
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here (ASCII)


def lua_script(variant: str, *, prefix: str, auth: str, image_path: Path) -> str:
    template, order = payload.lua_template(variant)
    headers = {**payload.headers(variant), "Authorization": auth}
    request = _REQUEST.replace(
        "{VILLAGES}", "{" + ", ".join(_lua_string(v) for v in payload.VILLAGES) + "}"
    ).replace("{ARGS}", ", ".join(order))
    return (
        f"PREFIX = {_lua_string(prefix)}\nPATH = {_lua_string(payload.path(variant))}\n"
        f"TEMPLATE = {_lua_string(template)}\n"
        f"TAIL_HEAD = {_lua_string(payload.tail_head())}\nCLOSE = {_lua_string(payload.CLOSE)}\n"
        f"IMAGE_PATH = {_lua_string(str(image_path))}\n"
        "HEADERS = {"
        + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
        + "}\n"
        + FORMS_LUA.replace(_FORMS_REQUEST, request)
    )


def wrk(
    base_url: str,
    variant: str,
    *,
    auth: str,
    prefix: str,
    image_path: Path,
    seconds: float,
    connections: int = 16,
    threads: int = 2,
    timeout_s: int = 10,
) -> LoadResult:
    """``wrk`` posting ``variant``'s submissions to ``base_url`` for ``seconds``."""
    script_text = lua_script(variant, prefix=prefix, auth=auth, image_path=image_path)
    return run_wrk(
        script_text,
        base_url + payload.path(variant),
        seconds=seconds,
        connections=connections,
        threads=threads,
        timeout_s=timeout_s,
    )


# -- the sequential Python client (authentication diagnostic) -----------------------------------


def client_auth(kind: str, *, apikey: str, username: str, password: str) -> Any:
    """``requests`` auth for ``kind``: ``digest`` (HTTPDigestAuth: a 401 challenge first, then
    a fresh MD5 answer with a counted nonce on every request), ``basic``, ``apikey``."""
    import requests
    from requests.auth import HTTPBasicAuth, HTTPDigestAuth

    if kind == "digest":
        return HTTPDigestAuth(username, password)
    if kind == "basic":
        return HTTPBasicAuth(username, password)

    def add_key(request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = apikey
        return request

    return add_key


class Client:
    """One keep-alive ``requests`` session posting one variant's submissions sequentially.

    Like ODK Collect, an OpenRosa client sends ``HEAD`` first (:meth:`head`): with Digest, the
    401 challenge then comes without a 100 KiB body in flight, and later posts answer it at
    once (``HTTPDigestAuth`` keeps the nonce and counts it up)."""

    def __init__(self, base_url: str, variant: str, auth: Any, prefix: str, picture: bytes):
        import requests

        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers.update(payload.headers(variant))
        self.url = base_url + payload.path(variant)
        self.variant, self.prefix, self.picture = variant, prefix, picture
        self.n = 0
        self.latencies_ms: list[float] = []
        self.statuses: dict[str, int] = {}

    def _count(self, status: str, detail: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status != "201" and self.statuses[status] == 1:
            print(f"{self.prefix}: {status} {detail[:300]}")

    def head(self) -> None:
        """``HEAD`` of the submission URL (OpenRosa only): 204 expected, not counted."""
        if self.variant == "openrosa":
            response = self.session.head(self.url, timeout=30)
            if response.status_code != 204:
                print(f"{self.prefix}: HEAD answered {response.status_code}")

    def post(self, count: int) -> None:
        import requests

        for _ in range(count):
            self.n += 1
            village = payload.VILLAGES[self.n % len(payload.VILLAGES)]
            data = payload.body(
                self.variant, f"uuid:{self.prefix}-{self.n}", village, self.n % 9 + 1, self.picture
            )
            start = time.perf_counter()
            try:
                response = self.session.post(self.url, data=data, timeout=30)
            except requests.RequestException as exc:
                self._count(type(exc).__name__, str(exc))
                continue
            self.latencies_ms.append((time.perf_counter() - start) * 1000)
            self._count(str(response.status_code), response.text)

    def close(self) -> None:
        self.session.close()

    @property
    def errors(self) -> int:
        return sum(c for s, c in self.statuses.items() if s != "201")


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]
