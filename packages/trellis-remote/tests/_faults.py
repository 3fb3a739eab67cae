"""Fault injection for test_faults.py: gated streams, misbehaving servers, impaired networks.

Nothing here mocks the client: the servers are real listening sockets, the network faults are
real packets dropped or held back between two network namespaces.

* :class:`GatedStream` — an upload body that stops at a known byte until the test releases it.
* :class:`FakeService` — a plain socket server that accepts and then misbehaves (never answers,
  answers the headers and stalls in the body, pauses reading an upload), counting connections.
* :func:`network_lab` — a network namespace joined to this one by a link whose root-side
  egress can be delayed or made lossy: ``tc netem`` on a veth pair where the kernel has
  ``sch_netem``; otherwise a TUN pair forwarded by a thread of this process that applies the
  same delay/loss to the same direction (this machine kind's kernel is built without
  ``CONFIG_NET_SCH_NETEM``, so ``tc qdisc add ... netem`` answers "qdisc kind is unknown").
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import heapq
import io
import ipaddress
import os
import random
import re
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from trellis.blobs.testing import PatternStream
from trellis.core.testing import in_ci

MiB = 1024 * 1024


# -- streams -----------------------------------------------------------------------------------


class GatedStream(PatternStream):
    """``size`` bytes of the contract suite's pattern; reading stops at byte ``gate`` until
    :meth:`open_gate`.

    :attr:`reached` is set when a read arrives at the gate (everything before it has been
    handed out). ``seekable=True`` makes the client send ``Content-Length``; otherwise the
    body goes chunked. A gate never opened raises after ``wait`` seconds, so nothing hangs.
    """

    def __init__(self, size: int, gate: int, *, seekable: bool = False, wait: float = 60) -> None:
        super().__init__(size)
        self.gate, self.wait = gate, wait
        self._seekable = seekable
        self.reached = threading.Event()
        self._open = threading.Event()

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def open_gate(self) -> None:
        self._open.set()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = MiB
        if self.position >= self.gate and not self._open.is_set():
            self.reached.set()
            if not self._open.wait(self.wait):
                raise TimeoutError(f"the gate at byte {self.gate} was never opened")
        if not self._open.is_set():
            size = min(size, self.gate - self.position)
        return super().read(size)


# -- running something with a bound ------------------------------------------------------------


@dataclass
class Outcome:
    """What a bounded call did: its value or its exception, and how long it took."""

    value: Any = None
    error: BaseException | None = None
    elapsed: float = 0.0


class Bounded:
    """``function`` running in a thread from now on; :meth:`wait` collects its outcome."""

    def __init__(self, function: Callable[[], Any], what: str) -> None:
        self.what = what
        self.outcome = Outcome()
        self._thread = threading.Thread(
            target=self._run, args=(function,), name=f"bounded: {what}", daemon=True
        )
        self._thread.start()

    def _run(self, function: Callable[[], Any]) -> None:
        started = time.monotonic()
        try:
            self.outcome.value = function()
        except BaseException as exc:
            self.outcome.error = exc
        finally:
            self.outcome.elapsed = time.monotonic() - started

    def wait(self, limit: float) -> Outcome:
        """The outcome; fails the test if the call is still running ``limit`` s from now."""
        self._thread.join(limit)
        if self._thread.is_alive():
            pytest.fail(f"{self.what} hung: still running {limit:.1f} s after it was awaited")
        return self.outcome


def run_bounded(function: Callable[[], Any], limit: float, what: str) -> Outcome:
    """Run ``function`` in a thread; fail the test if it has not returned after ``limit`` s."""
    return Bounded(function, what).wait(limit)


# -- a misbehaving HTTP service ----------------------------------------------------------------


class FakeService:
    """A TCP server on loopback that accepts every connection and then misbehaves.

    ``mode``:

    * ``"silent"`` — reads whatever is sent and never answers;
    * ``"deaf"`` — never reads and never answers (an upload fills the socket buffers);
    * ``"stall-body"`` — reads the request head, answers ``200`` with a ``Content-Length`` of
      1 MB and ``content_type``, sends ``partial`` and then nothing more;
    * ``"slow-reader"`` — reads the request head, pauses ``pause`` seconds, reads the body
      (``Content-Length``) and answers ``{"result": <bytes read>}``.

    :attr:`accepted` counts connections. Every socket is closed on exit.
    """

    def __init__(
        self,
        mode: str,
        *,
        content_type: str = "application/json",
        partial: bytes = b'{"res',
        pause: float = 0.0,
        port: int = 0,
    ) -> None:
        self.mode, self.content_type, self.partial, self.pause = mode, content_type, partial, pause
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.listener.settimeout(0.05)
        self.port = int(self.listener.getsockname()[1])
        self.accepted = 0
        self.body_bytes: list[int] = []
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/remote/"

    def __enter__(self) -> FakeService:
        thread = threading.Thread(target=self._accept, name="fake service", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        with self._lock:
            for conn in self._connections:
                conn.close()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._connections.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        try:
            if self.mode == "deaf":
                self._stop.wait()
                return
            head, rest = self._read_head(conn)
            if self.mode == "silent":
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        if not conn.recv(MiB):
                            return
            elif self.mode == "stall-body":
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: " + self.content_type.encode() + b"\r\n"
                    b"Content-Length: 1000000\r\n\r\n" + self.partial
                )
                self._stop.wait()
            elif self.mode == "slow-reader":
                self._stop.wait(self.pause)
                length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
                got = len(rest)
                conn.settimeout(10)
                while got < length:
                    chunk = conn.recv(min(MiB, length - got))
                    if not chunk:
                        return
                    got += len(chunk)
                self.body_bytes.append(got)
                body = b'{"result": %d}' % got
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )
        except OSError:
            return  # the client went away
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.errors.append(exc)

    def _read_head(self, conn: socket.socket) -> tuple[bytes, bytes]:
        data = b""
        while b"\r\n\r\n" not in data and not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        return head, rest


# -- files of the filesystem provider ----------------------------------------------------------


def stored_files(root: Path) -> list[str]:
    """Every file under the blob root, relative, sorted (content and ``~tmp-*`` alike)."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def wait_for_temp_file(
    root: Path, at_least: int, *, known: Iterable[str] = (), wait: float = 30
) -> Path:
    """The provider's new ``~tmp-*`` file (none of ``known``, paths relative to ``root``) once
    it holds ``at_least`` bytes: the write is under way in the service. Else fail."""
    old = set(known)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for path in root.rglob("~tmp-*") if root.exists() else ():
            with contextlib.suppress(FileNotFoundError):
                if str(path.relative_to(root)) not in old and path.stat().st_size >= at_least:
                    return path
        time.sleep(0.02)
    pytest.fail(f"no ~tmp-* file of {at_least} bytes under {root} after {wait} s")


# -- network namespaces ------------------------------------------------------------------------


def _run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    if check and done.returncode:
        if "Operation not permitted" in done.stderr:
            raise PermissionError(f"{' '.join(command)}: {done.stderr.strip()}")
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return done


def _unavailable(reason: str) -> None:
    """Skip, or fail under CI (which runs as root on a machine kind that must run these)."""
    what = (
        "these tests need iproute2 (`ip`, and `tc` with sch_netem or /dev/net/tun) and "
        "CAP_NET_ADMIN (run as root) to build a network namespace"
    )
    if in_ci():
        pytest.fail(f"CI must run the network fault tests, but {reason}; {what}", pytrace=False)
    pytest.skip(f"{reason}; {what}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 in 10.200.0.0/16 that no interface or route of this namespace uses."""
    used = _run("ip", "-o", "-4", "addr", "show").stdout + _run("ip", "-4", "route").stdout
    taken = {int(m) for m in re.findall(r"\b10\.200\.(\d+)\.", used)}
    start = os.getpid() % 200 + 20
    for third in [*range(start, 250), *range(20, start)]:
        if third not in taken:
            return ipaddress.IPv4Network(f"10.200.{third}.0/30")
    raise RuntimeError("no free /30 in 10.200.0.0/16")


class _Impairment:
    """Delay and loss of the packets the root namespace sends into the lab (as netem on the
    root-side veth would apply them)."""

    mechanism = ""

    def impair(self, *, delay: float = 0.0, loss: float = 0.0) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        self.impair()

    def dropped(self) -> int:
        """Packets into the lab lost so far (the proof that a loss fault is real)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _NetemLink(_Impairment):
    """A veth pair; ``tc qdisc replace dev <root veth> root netem ...``."""

    mechanism = "tc netem on a veth pair"

    def __init__(self, outer: str, inner: str, ns: str) -> None:
        self.outer = outer
        _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        try:
            _run("ip", "link", "set", inner, "netns", ns)
            probe = _run(
                "tc", "qdisc", "add", "dev", outer, "root", "netem", "delay", "0ms", check=False
            )
            if probe.returncode:
                raise _NoNetem(probe.stderr.strip())
            _run("tc", "qdisc", "del", "dev", outer, "root")
        except BaseException:
            self.close()
            raise

    def impair(self, *, delay: float = 0.0, loss: float = 0.0) -> None:
        if not delay and not loss:
            _run("tc", "qdisc", "del", "dev", self.outer, "root", check=False)
            return
        spec = ["delay", f"{delay * 1000:.0f}ms"] if delay else []
        spec += ["loss", f"{loss * 100:g}%"] if loss else []
        _run("tc", "qdisc", "replace", "dev", self.outer, "root", "netem", *spec)

    def dropped(self) -> int:
        shown = _run("tc", "-s", "qdisc", "show", "dev", self.outer).stdout
        return sum(int(n) for n in re.findall(r"dropped (\d+)", shown))

    def close(self) -> None:
        _run("ip", "link", "del", self.outer, check=False)  # takes its peer with it


class _NoNetem(Exception):
    pass


_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000


class _TunWire(_Impairment):
    """Two TUN devices, one in each namespace, joined by a thread of this process.

    Every IP packet the root namespace sends into the lab is read from the outer device and
    written to the inner one (and back): dropped with probability ``loss``, or held back
    ``delay`` seconds first. The kernels' TCP stacks on both sides are the real ones; only
    the wire between them is this thread.
    """

    mechanism = "TUN pair forwarded by a test thread (no sch_netem in this kernel)"

    def __init__(self, outer: str, inner: str, ns: str) -> None:
        self._fds: list[int] = []
        self._delay, self._loss = 0.0, 0.0
        self._random = random.Random(0x7E11)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.lost = self.sent = 0
        try:
            self.outer_fd = self._open(outer)
            self.inner_fd = self._open(inner)
            _run("ip", "link", "set", inner, "netns", ns)
            self._wake_r, self._wake_w = os.pipe()
            self._fds += [self._wake_r, self._wake_w]
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._forward, name="tun wire", daemon=True)
        self._thread.start()

    def _open(self, name: str) -> int:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
        self._fds.append(fd)
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
        return fd

    def impair(self, *, delay: float = 0.0, loss: float = 0.0) -> None:
        with self._lock:
            self._delay, self._loss = delay, loss

    def _forward(self) -> None:
        held: list[tuple[float, int, bytes]] = []  # (due, sequence, packet) into the lab
        sequence = 0
        while not self._stop.is_set():
            timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
            ready, _, _ = select.select(
                [self.outer_fd, self.inner_fd, self._wake_r], [], [], timeout
            )
            for fd in ready:
                if fd == self._wake_r:
                    continue
                try:
                    packet = os.read(fd, 65536)
                except OSError:
                    continue
                if fd == self.inner_fd:
                    self._write(self.outer_fd, packet)  # out of the lab: unimpaired
                    continue
                with self._lock:
                    delay, loss = self._delay, self._loss
                self.sent += 1
                if loss and self._random.random() < loss:
                    self.lost += 1
                elif delay:
                    sequence += 1
                    heapq.heappush(held, (time.monotonic() + delay, sequence, packet))
                else:
                    self._write(self.inner_fd, packet)
            now = time.monotonic()
            while held and held[0][0] <= now:
                self._write(self.inner_fd, heapq.heappop(held)[2])

    def dropped(self) -> int:
        return self.lost

    def _write(self, fd: int, packet: bytes) -> None:
        try:
            os.write(fd, packet)
        except OSError as exc:  # a device going down, a full queue: the packet is lost
            if exc.errno not in (errno.EIO, errno.ENOBUFS, errno.EAGAIN, errno.EBADF):
                raise

    def close(self) -> None:
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
            thread.join(5)
        for fd in self._fds:  # closing a TUN device's only file removes the device
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()


@dataclass
class NetworkLab:
    """A network namespace ``ns`` reached from here at ``inner_ip`` (this side: ``outer_ip``)."""

    ns: str
    outer_ip: str
    inner_ip: str
    link: _Impairment
    notes: list[str] = field(default_factory=list)
    """Why the preferred mechanism (tc netem) was not used, when it was not."""

    @property
    def mechanism(self) -> str:
        return self.link.mechanism

    def impair(self, *, delay: float = 0.0, loss: float = 0.0) -> None:
        self.link.impair(delay=delay, loss=loss)

    def clear(self) -> None:
        self.link.clear()

    def dropped(self) -> int:
        return self.link.dropped()

    @property
    def prefix(self) -> list[str]:
        """Run a command inside the namespace."""
        return ["ip", "netns", "exec", self.ns]


@contextlib.contextmanager
def network_lab() -> Iterator[NetworkLab]:
    """A fresh namespace and link, removed on exit whatever happened (unique names per run).

    Skips (fails under ``CI=true``) when ``ip``, CAP_NET_ADMIN, or both netem and TUN are
    missing.
    """
    if shutil.which("ip") is None:
        _unavailable("`ip` (iproute2) is not installed")
    tag = f"{os.getpid() % 100000:05d}{uuid.uuid4().hex[:3]}"
    ns = f"trellis-faults-{tag}"
    outer, inner = f"tfo{tag}", f"tfi{tag}"  # at most 15 characters
    added = _run("ip", "netns", "add", ns, check=False)
    if added.returncode:
        _unavailable(f"`ip netns add` failed: {added.stderr.strip()}")
    link: _Impairment | None = None
    try:
        try:
            subnet = _free_subnet()
            outer_ip, inner_ip = (str(h) for h in subnet.hosts())
            reasons = []
            if shutil.which("tc") is not None:
                try:
                    link = _NetemLink(outer, inner, ns)
                except _NoNetem as exc:
                    reasons.append(f"tc netem is not available ({exc})")
            else:
                reasons.append("`tc` is not installed")
            if link is None:
                if not os.path.exists("/dev/net/tun"):
                    _unavailable("; ".join([*reasons, "and /dev/net/tun is missing"]))
                link = _TunWire(outer, inner, ns)
            _run("ip", "addr", "add", f"{outer_ip}/30", "dev", outer)
            _run("ip", "link", "set", outer, "up")
            _run("ip", "-n", ns, "addr", "add", f"{inner_ip}/30", "dev", inner)
            _run("ip", "-n", ns, "link", "set", inner, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        except PermissionError as exc:
            _unavailable(f"building the link was not permitted (no CAP_NET_ADMIN?): {exc}")
        yield NetworkLab(ns, outer_ip, inner_ip, link, reasons)
    finally:
        if link is not None:
            link.close()
        _run("ip", "netns", "del", ns, check=False)
