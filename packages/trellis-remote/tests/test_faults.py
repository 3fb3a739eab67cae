"""The ``remote`` blobs client when the service dies, stalls or sits behind a bad network.

Real processes and real sockets, no mocks: services/blobs under gunicorn (SIGKILLed and
restarted on its port), plain socket servers that accept and misbehave, and services/blobs in
a network namespace whose link is delayed or lossy. Each test asserts what the caller sees (a
typed error within its timeouts, never a hang, never wrong bytes) and what the service keeps
afterwards (no partial blob readable or listed).

Two tests here found bugs, since fixed: an upload sent under the connect timeout, and a
service stalling mid-answer that never opened the circuit.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from trellis.blobs import NotFound
from trellis.blobs.filesystem import remove_stale_temp_files
from trellis.blobs.testing import PatternStream
from trellis.core import HealthResult, Host, _global, set_host
from trellis.core.testing import isolated_host
from trellis.remote import RemoteTimeout, RemoteUnavailable, _client
from trellis.remote.testing import ServiceProcess, free_port, new_secret


def _load_helpers() -> Any:
    """tests/_faults.py (tests are imported with --import-mode=importlib: no sys.path entry)."""
    name = "trellis_remote_tests_faults"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_faults.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


faults = _load_helpers()
MiB = faults.MiB

CONNECT, READ, ATTEMPTS = 0.5, 1.5, 3
MARGIN = 2.0
"""Slack on every "within its timeouts" bound: scheduling on a loaded 2-core machine, never
a hang (a hung call would take the whole read timeout again, or forever)."""
BACKOFF = 0.1 + 0.2  # the client's longest backoff before attempts 2 and 3


# -- fixtures ----------------------------------------------------------------------------------


def configure(
    monkeypatch: pytest.MonkeyPatch, url: str, secret: str, **tuning: float | int
) -> None:
    """Select provider ``remote`` for ``blobs`` at ``url``, with small timeouts.

    The circuit breaker is out of the way (1000 failures) unless a test tunes it.
    """
    settings: dict[str, float | int] = {
        "CONNECT_TIMEOUT": CONNECT,
        "READ_TIMEOUT": READ,
        "ATTEMPTS": ATTEMPTS,
        "FAILURES": 1000,
        "RESET": 1.0,
        **tuning,
    }
    monkeypatch.setenv("TRELLIS_BLOBS_PROVIDER", "remote")
    monkeypatch.setenv("TRELLIS_REMOTE_BLOBS_URL", url)
    monkeypatch.setenv("TRELLIS_REMOTE_BLOBS_SECRET", secret)
    for name, value in settings.items():
        monkeypatch.setenv(f"TRELLIS_REMOTE_BLOBS_{name}", str(value))


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    """A host whose ``blobs`` provider is ``remote``, also the process-wide host.

    Every test starts with no pooled connection and a closed circuit: the client's registry
    of services (one pool and breaker per settings) is emptied for the test and put back.
    """
    monkeypatch.setattr(_client, "_services", {})
    built = isolated_host(discover=True, providers={"blobs": "remote"})
    broken = [f"{r.name}: {r.reason}" for r in built.plugins() if r.status == "quarantined"]
    assert not broken, broken
    previous = _global._host
    set_host(built)
    try:
        yield built
    finally:
        set_host(previous)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """services/blobs under gunicorn for this module; tests SIGKILL it and start it again."""
    pytest.importorskip("blobs_service", reason="install services/blobs (trellis-blobs-service)")
    data = Path(tmp_path_factory.mktemp("faults-service"))
    with ServiceProcess("blobs_service", data_dir=data, secret=new_secret()) as running:
        yield running


@pytest.fixture
def live(service: ServiceProcess, monkeypatch: pytest.MonkeyPatch) -> ServiceProcess:
    """The module's service, running (a test that failed after a kill left it down), with
    this process configured to call it."""
    if service.process is None:
        service.start()
    configure(monkeypatch, service.remote_url, service.secret)
    return service


def blob_root(service: ServiceProcess) -> Path:
    return service.data_dir / "blobs"  # the service's filesystem provider root


def read_all(stream: Any, chunk: int = MiB) -> bytes:
    parts = []
    while part := stream.read(chunk):
        parts.append(part)
    return b"".join(parts)


def pattern(size: int) -> bytes:
    return PatternStream(size).read(size) if size <= MiB else read_all(PatternStream(size))


def scan_keys(host: Host) -> set[str]:
    return {blob.key for blob in host.call("blobs_scan")}


def health(host: Host) -> HealthResult:
    checks = [c for group in host.collect("core_health_checks") for c in group]
    (check,) = [c for c in checks if c.name == "remote.blobs"]
    result = check.check()
    assert isinstance(result, HealthResult)
    return result


def assert_typed(outcome: Any, kind: type[BaseException] = RemoteUnavailable) -> Any:
    """The call raised ``kind`` (RemoteUnavailable covers its subclass RemoteTimeout)."""
    assert outcome.error is not None, f"the call returned {outcome.value!r} instead of failing"
    assert isinstance(outcome.error, kind), (
        f"expected {kind.__name__}, got {type(outcome.error).__name__}: {outcome.error}"
    )
    return outcome.error


def assert_absent(host: Host, key: str) -> None:
    assert host.call("blobs_exists", key=key) is False
    with pytest.raises(NotFound):
        host.call("blobs_open", key=key).close()
    assert key not in scan_keys(host)


# -- 1. SIGKILL of the service -----------------------------------------------------------------


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_sigkill_mid_upload_is_a_typed_error_and_stores_nothing(
    live: ServiceProcess, host: Host, framing: str
) -> None:
    """The service dies while it streams an upload to disk: the caller gets RemoteUnavailable
    at once, and after a restart the key is absent everywhere. The only trace is the
    filesystem provider's ``~tmp-*`` file (no cleanup runs on SIGKILL), which is never listed
    and which ``remove_stale_temp_files`` removes."""
    root = blob_root(live)
    key = f"faults/upload-{framing}"
    before = faults.stored_files(root)
    stream = faults.GatedStream(64 * MiB, 4 * MiB, seekable=framing == "content-length")
    call = faults.Bounded(lambda: host.call("blobs_write", key=key, stream=stream), "blobs_write")

    assert stream.reached.wait(30), "the client never read 4 MiB of the upload"
    temp = faults.wait_for_temp_file(root, MiB, known=before)  # the service is writing it now
    live.kill()
    stream.open_gate()
    outcome = call.wait(CONNECT + READ + MARGIN)

    error = assert_typed(outcome)
    assert not isinstance(error, RemoteTimeout), (
        f"a broken connection reported as a timeout: {error}"
    )
    assert error.code == "remote_unavailable", error.code
    assert stream.position < stream.size, "the whole upload was sent to a dead service"

    live.start()
    assert_absent(host, key)
    leftover = sorted(set(faults.stored_files(root)) - set(before))
    assert leftover == [str(temp.relative_to(root))], (
        f"after SIGKILL mid-write expected exactly the write's temp file, found {leftover}"
    )
    assert remove_stale_temp_files(timedelta(0), root=root) == 1
    assert faults.stored_files(root) == before


def test_sigkill_mid_download_raises_and_never_ends_short(live: ServiceProcess, host: Host) -> None:
    """Reading on after the service died gives the correct bytes that were already on the way,
    then RemoteUnavailable: never a clean end of a shortened blob. The blob is intact after a
    restart."""
    size, key = 32 * MiB, "faults/download"
    assert host.call("blobs_write", key=key, stream=PatternStream(size)) == size
    expected = pattern(size)
    before = faults.stored_files(blob_root(live))

    reader = host.call("blobs_open", key=key)
    try:
        received = bytearray(reader.read(MiB))
        assert bytes(received) == expected[:MiB]
        live.kill()

        def read_on() -> None:
            while chunk := reader.read(MiB):
                received.extend(chunk)

        outcome = faults.run_bounded(read_on, READ + MARGIN, "reading after SIGKILL")
    finally:
        reader.close()
    assert_typed(outcome)
    assert len(received) < size, "a body cut off by SIGKILL was read to a clean end"
    assert bytes(received) == expected[: len(received)], "wrong bytes before the break"

    live.start()
    assert faults.stored_files(blob_root(live)) == before
    with host.call("blobs_open", key=key) as again:
        assert hashlib.sha256(read_all(again)).digest() == hashlib.sha256(expected).digest()


def test_sigkill_while_idle_then_every_hook_fails_typed_and_recovers(
    live: ServiceProcess, host: Host
) -> None:
    """With the service dead, reads (retried ATTEMPTS times) and writes (tried once) raise
    RemoteUnavailable within their timeouts; after a restart everything answers again and the
    failed write left nothing."""
    key, lost = "faults/idle", "faults/idle-lost"
    host.call("blobs_write", key=key, stream=io.BytesIO(b"idle content"))
    before = faults.stored_files(blob_root(live))
    live.kill()

    calls: dict[str, Callable[[], Any]] = {
        "blobs_exists": lambda: host.call("blobs_exists", key=key),
        "blobs_open": lambda: host.call("blobs_open", key=key).close(),
        "blobs_scan": lambda: list(host.call("blobs_scan")),
        "blobs_write": lambda: host.call("blobs_write", key=lost, stream=io.BytesIO(b"x")),
    }
    bound = ATTEMPTS * CONNECT + BACKOFF + MARGIN
    for name, call in calls.items():
        error = assert_typed(faults.run_bounded(call, bound, name))
        assert str(live.port) in str(error), f"{name}: the error does not say where: {error}"
        assert not isinstance(error, RemoteTimeout), f"{name}: a refusal taken for a timeout"
        assert error.code == "remote_unavailable", (name, error.code)

    live.start()
    assert host.call("blobs_exists", key=key) is True
    with host.call("blobs_open", key=key) as reader:
        assert reader.read() == b"idle content"
    assert key in scan_keys(host)
    assert_absent(host, lost)
    assert faults.stored_files(blob_root(live)) == before


def test_refused_connection_is_unavailable_not_a_timeout(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens on the port (a dead service): the error is RemoteUnavailable with code
    ``remote_unavailable``, not its subclass RemoteTimeout. (urllib3 2's NewConnectionError
    subclasses ConnectTimeoutError; the client once reported a refusal as "did not answer in
    time".)"""
    configure(monkeypatch, f"http://127.0.0.1:{free_port()}/remote/", new_secret(), ATTEMPTS=1)
    outcome = faults.run_bounded(
        lambda: host.call("blobs_exists", key="k"), CONNECT + MARGIN, "exists"
    )
    error = assert_typed(outcome)
    assert "Connection refused" in str(error)
    assert not isinstance(error, RemoteTimeout), f"a refusal reported as a timeout: {error}"
    assert error.code == "remote_unavailable"


@pytest.mark.django_db
def test_facade_put_cut_by_sigkill_leaves_no_row(live: ServiceProcess, host: Host) -> None:
    """``trellis.blobs.put`` through the remote provider, the service SIGKILLed mid-upload:
    a typed BlobStoreUnavailable (caused by RemoteUnavailable), no BlobMeta row, no content."""
    from trellis import blobs
    from trellis.blobs.models import BlobMeta

    key = "faults/facade"
    before = faults.stored_files(blob_root(live))
    stream = faults.GatedStream(64 * MiB, 4 * MiB)
    problems: list[BaseException] = []

    def kill_at_gate() -> None:
        try:
            assert stream.reached.wait(30), "the upload never reached the gate"
            faults.wait_for_temp_file(blob_root(live), MiB, known=before)
            live.kill()
        except BaseException as exc:
            problems.append(exc)
        finally:
            stream.open_gate()

    killer = threading.Thread(target=kill_at_gate, daemon=True)
    killer.start()
    with pytest.raises(blobs.BlobStoreUnavailable) as raised:
        blobs.put(stream, domain="demo", parent_id="faults-facade", type_code=1, key=key)
    killer.join(30)
    assert not problems, problems
    assert isinstance(raised.value.__cause__, RemoteUnavailable), raised.value.__cause__
    assert not BlobMeta.objects.filter(key=key).exists()
    assert list(blobs.list_blobs(parent_id="faults-facade")) == []
    live.start()
    assert_absent(host, key)
    assert remove_stale_temp_files(timedelta(0), root=blob_root(live)) == 1  # the write's temp
    assert faults.stored_files(blob_root(live)) == before


# -- 2. circuit breaker ------------------------------------------------------------------------


def test_circuit_opens_fails_fast_warns_and_closes_after_a_good_trial(
    live: ServiceProcess, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAILURES failures in a row open the circuit: calls then fail at once with code
    ``circuit_open`` without touching the network (a listener put on the dead service's port
    sees no connection), and the health check warns with circuit=open. Once the service is
    back and RESET has passed, the next call is the trial: it succeeds and closes the circuit,
    and health is ok again."""
    from trellis.remote import clients

    failures, reset = 3, 1.5
    configure(monkeypatch, live.remote_url, live.secret, FAILURES=failures, RESET=reset, ATTEMPTS=1)
    key = "faults/circuit"
    host.call("blobs_write", key=key, stream=io.BytesIO(b"circuit"))
    assert health(host).status == "ok"
    breaker = clients.blobs.client.state()[1].breaker
    live.kill()

    for number in range(1, failures + 1):
        error = assert_typed(
            faults.run_bounded(lambda: host.call("blobs_exists", key=key), CONNECT + MARGIN, "x")
        )
        assert error.code != "circuit_open", f"call {number} of {failures} already fast-failed"
    assert breaker.snapshot().state == "open"

    with faults.FakeService("silent", port=live.port) as witness:  # who calls, connects here
        for _ in range(3):
            started = time.perf_counter()
            with pytest.raises(RemoteUnavailable) as raised:
                host.call("blobs_exists", key=key)
            elapsed = time.perf_counter() - started
            assert raised.value.code == "circuit_open", raised.value
            assert elapsed < 0.1, f"an open circuit took {elapsed * 1000:.0f} ms to refuse"
        assert "circuit open" in str(raised.value)
        status = health(host)
        assert witness.accepted == 0, "a call went to the network while the circuit was open"
    assert status.status == "warn", status
    assert status.details.get("circuit") == "open", status.details
    assert "circuit open" in status.message and str(failures) in status.message, status.message

    live.start()
    time.sleep(breaker.retry_in())
    assert breaker.snapshot().state == "half-open"
    assert host.call("blobs_exists", key=key) is True  # the trial
    assert breaker.snapshot().state == "closed"
    assert breaker.snapshot().failures == 0
    status = health(host)
    assert status.status == "ok", status
    assert status.details.get("circuit") == "closed", status.details


def test_open_circuit_lets_one_trial_through_and_reopens_when_it_fails(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a service that accepts and never answers: FAILURES timeouts open the circuit
    (one connection each); while the half-open trial is in flight every other call fails at
    once without connecting; the trial's timeout opens the circuit again."""
    from trellis.remote import clients

    read, reset = 0.8, 1.0
    with faults.FakeService("silent") as fake:
        configure(
            monkeypatch,
            fake.url,
            new_secret(),
            FAILURES=2,
            RESET=reset,
            ATTEMPTS=1,
            READ_TIMEOUT=read,
        )
        breaker = clients.blobs.client.state()[1].breaker
        for _ in range(2):
            assert_typed(
                faults.run_bounded(
                    lambda: host.call("blobs_exists", key="k"), read + MARGIN, "exists"
                ),
                RemoteTimeout,
            )
        assert fake.accepted == 2
        with pytest.raises(RemoteUnavailable, match="circuit open"):
            host.call("blobs_exists", key="k")
        assert fake.accepted == 2

        time.sleep(breaker.retry_in())
        trial = faults.Bounded(lambda: host.call("blobs_exists", key="k"), "trial")
        deadline = time.monotonic() + 5
        while fake.accepted < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.accepted == 3, "the trial call never connected"
        for _ in range(3):
            with pytest.raises(RemoteUnavailable) as raised:
                host.call("blobs_exists", key="k")
            assert raised.value.code == "circuit_open"
        assert_typed(trial.wait(read + MARGIN), RemoteTimeout)
        assert breaker.snapshot().state == "open"
        with pytest.raises(RemoteUnavailable) as raised:
            host.call("blobs_exists", key="k")
        assert raised.value.code == "circuit_open"
        assert fake.accepted == 3
        assert not fake.errors


# -- 3. slow and stalled services --------------------------------------------------------------

SAFE_CALLS: dict[str, Callable[[Host], Any]] = {
    "blobs_exists": lambda host: host.call("blobs_exists", key="k"),
    "blobs_open": lambda host: read_all(host.call("blobs_open", key="k")),
    "blobs_scan": lambda host: list(host.call("blobs_scan")),
}


@pytest.mark.parametrize("hook", sorted(SAFE_CALLS))
def test_a_service_that_never_answers_is_retried_then_a_timeout(
    host: Host, monkeypatch: pytest.MonkeyPatch, hook: str
) -> None:
    """Safe calls try ATTEMPTS connections, each waiting the read timeout, then raise
    RemoteTimeout: within ATTEMPTS x (connect + read) plus backoff and a margin."""
    read = 1.0
    with faults.FakeService("silent") as fake:
        configure(monkeypatch, fake.url, new_secret(), READ_TIMEOUT=read)
        bound = ATTEMPTS * (CONNECT + read) + BACKOFF + MARGIN
        outcome = faults.run_bounded(lambda: SAFE_CALLS[hook](host), bound, hook)
        assert_typed(outcome, RemoteTimeout)
        assert fake.accepted == ATTEMPTS, f"{hook}: {fake.accepted} connections"
        assert outcome.elapsed >= ATTEMPTS * read * 0.9, "gave up before the read timeouts"
        assert not fake.errors


def test_a_write_to_a_service_that_never_answers_is_tried_once(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = 1.0
    with faults.FakeService("silent") as fake:
        configure(monkeypatch, fake.url, new_secret(), READ_TIMEOUT=read)
        outcome = faults.run_bounded(
            lambda: host.call("blobs_write", key="k", stream=io.BytesIO(b"x" * 1024)),
            CONNECT + read + MARGIN,
            "blobs_write",
        )
        assert_typed(outcome, RemoteTimeout)
        assert fake.accepted == 1, "a write was sent again"
        assert not fake.errors


STALLED_BODY = {
    "blobs_exists": ("application/json", b'{"res'),
    "blobs_open": ("application/octet-stream", pattern(1000)),
    "blobs_scan": ("application/x-ndjson", b'{"item":{"key":"a","len'),
}


@pytest.mark.parametrize("hook", sorted(STALLED_BODY))
def test_a_service_that_stalls_mid_body_is_a_timeout_without_retry(
    host: Host, monkeypatch: pytest.MonkeyPatch, hook: str
) -> None:
    """``200`` and part of the body, then nothing: RemoteTimeout after one read timeout; the
    call is not repeated (its answer had begun) and never ends as if the body were whole."""
    content_type, partial = STALLED_BODY[hook]
    with faults.FakeService("stall-body", content_type=content_type, partial=partial) as fake:
        configure(monkeypatch, fake.url, new_secret(), READ_TIMEOUT=1.0)
        outcome = faults.run_bounded(
            lambda: SAFE_CALLS[hook](host), CONNECT + 1.0 + MARGIN, f"{hook} stalled mid-body"
        )
        assert_typed(outcome, RemoteTimeout)
        assert fake.accepted == 1
        assert not fake.errors


@pytest.mark.parametrize("hook", ["blobs_exists", "blobs_open", "blobs_scan"])
def test_a_service_that_always_stalls_mid_answer_opens_the_circuit(
    host: Host, monkeypatch: pytest.MonkeyPatch, hook: str
) -> None:
    """FAILURES calls in a row that time out mid-body are FAILURES failures: the next call
    fails fast with ``circuit_open`` without connecting."""
    read = 0.5
    content_type, partial = STALLED_BODY[hook]
    with faults.FakeService("stall-body", content_type=content_type, partial=partial) as fake:
        configure(
            monkeypatch, fake.url, new_secret(), FAILURES=2, RESET=30, ATTEMPTS=1, READ_TIMEOUT=read
        )
        for _ in range(2):
            outcome = faults.run_bounded(lambda: SAFE_CALLS[hook](host), read + MARGIN, hook)
            assert_typed(outcome, RemoteTimeout)
        assert fake.accepted == 2
        outcome = faults.run_bounded(lambda: SAFE_CALLS[hook](host), read + MARGIN, hook)
        error = assert_typed(outcome)
        assert fake.accepted == 2, "the third call went to the network"
        assert error.code == "circuit_open", error


def test_an_upload_the_service_never_reads_is_a_timeout_not_a_hang(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service accepts and reads nothing: the upload fills the socket buffers and stops.
    The write raises RemoteTimeout (tried once) instead of blocking forever."""
    with faults.FakeService("deaf") as fake:
        configure(monkeypatch, fake.url, new_secret())
        stream = PatternStream(64 * MiB)
        outcome = faults.run_bounded(
            lambda: host.call("blobs_write", key="k", stream=stream),
            CONNECT + READ + MARGIN,
            "upload to a deaf service",
        )
        assert_typed(outcome, RemoteTimeout)
        assert stream.position < stream.size
        assert fake.accepted == 1


def test_an_upload_paused_by_the_service_within_the_read_timeout_completes(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy service stops reading an upload for 1.5 s (more than the 0.5 s connect timeout,
    well within the 5 s read timeout), then reads it all and answers: the write succeeds."""
    size = 32 * MiB  # more than both sockets' buffers hold: the sender must wait
    with faults.FakeService("slow-reader", pause=1.5) as fake:
        configure(monkeypatch, fake.url, new_secret(), READ_TIMEOUT=5.0)
        outcome = faults.run_bounded(
            lambda: host.call("blobs_write", key="k", stream=io.BytesIO(bytes(size))),
            CONNECT + 5.0 + 1.5 + MARGIN,
            "upload to a slow reader",
        )
        assert outcome.error is None, f"{type(outcome.error).__name__}: {outcome.error}"
        assert outcome.value == size
        assert fake.body_bytes == [size]


# -- 4. network faults between namespaces ------------------------------------------------------

LAB_CONNECT, LAB_READ = 1.5, 2.0


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    """A network namespace joined to this one by a link whose inbound side can be impaired
    (removed, with the link, whatever the tests did)."""
    with faults.network_lab() as built:
        yield built


@pytest.fixture(scope="module")
def lab_service(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """services/blobs running inside the lab's namespace, at its address there."""
    pytest.importorskip("blobs_service", reason="install services/blobs (trellis-blobs-service)")
    data = Path(tmp_path_factory.mktemp("faults-lab-service"))
    with ServiceProcess(
        "blobs_service",
        data_dir=data,
        secret=new_secret(),
        host=lab.inner_ip,
        prefix=lab.prefix,
        env={"DJANGO_ALLOWED_HOSTS": lab.inner_ip},
    ) as running:
        yield running


@pytest.fixture
def network(
    lab: Any, lab_service: ServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The lab, its service called by this process; the link is healed after each test."""
    configure(
        monkeypatch,
        lab_service.remote_url,
        lab_service.secret,
        CONNECT_TIMEOUT=LAB_CONNECT,
        READ_TIMEOUT=LAB_READ,
    )
    try:
        yield lab
    finally:
        lab.clear()


def test_delayed_link_still_round_trips_and_the_delay_is_real(network: Any, host: Host) -> None:
    """200 ms on every packet into the service's namespace: a 1 KiB write and read work, and
    each takes at least 200 ms (the fault is really on the wire)."""
    content = pattern(1024)
    network.impair(delay=0.2)
    started = time.monotonic()
    assert host.call("blobs_write", key="lab/delay", stream=io.BytesIO(content)) == 1024
    wrote = time.monotonic() - started
    started = time.monotonic()
    with host.call("blobs_open", key="lab/delay") as reader:
        assert read_all(reader) == content
    read = time.monotonic() - started
    assert wrote >= 0.2 and read >= 0.2, (
        f"{network.mechanism}: write {wrote:.3f} s, read {read:.3f} s"
    )


def test_lossy_link_never_gives_wrong_bytes(network: Any, host: Host) -> None:
    """30 % of the packets into the service's namespace are lost. Every write and read of a
    few MiB either succeeds with the right content (sha256) or raises a typed error, and a
    failed write leaves nothing or the whole blob. Tried again as an application would, each
    payload is stored and read back (the link is lossy, not dead)."""
    lost_before = network.dropped()
    network.impair(loss=0.3)
    tried: list[tuple[str, int]] = []
    failures: list[str] = []
    bound = LAB_CONNECT + LAB_READ + 60  # a crawl is fine; a hang is not
    for size in (1 * MiB, 3 * MiB):
        expected = hashlib.sha256(pattern(size)).hexdigest()
        stored = None
        for attempt in range(4):
            key = f"lab/lossy-{size}-{attempt}"
            tried.append((key, size))
            wrote = faults.run_bounded(
                lambda k=key, n=size: host.call("blobs_write", key=k, stream=PatternStream(n)),
                bound,
                f"write of {size} bytes",
            )
            if wrote.error is None:
                assert wrote.value == size
                stored = key
                break
            assert isinstance(wrote.error, RemoteUnavailable), repr(wrote.error)
            failures.append(f"write: {type(wrote.error).__name__}")
        assert stored is not None, f"4 writes of {size} bytes failed: {failures}"

        for _ in range(4):

            def digest(k: str = stored) -> str:
                with host.call("blobs_open", key=k) as reader:
                    return hashlib.sha256(read_all(reader)).hexdigest()

            got = faults.run_bounded(digest, ATTEMPTS * bound, f"read of {size} bytes")
            if got.error is None:
                assert got.value == expected, f"{stored}: wrong bytes over a lossy link"
                break
            assert isinstance(got.error, RemoteUnavailable), repr(got.error)
            failures.append(f"read: {type(got.error).__name__}")
        else:
            pytest.fail(f"4 reads of {size} bytes failed: {failures}")
    lost = network.dropped() - lost_before
    assert lost > 0, f"{network.mechanism}: no packet was lost: the fault is not on the wire"

    network.clear()
    for key, size in tried:  # what the service kept of failed writes: all or nothing
        if host.call("blobs_exists", key=key):
            with host.call("blobs_open", key=key) as reader:
                assert (
                    hashlib.sha256(read_all(reader)).hexdigest()
                    == hashlib.sha256(pattern(size)).hexdigest()
                ), f"{key}: a write cut by packet loss left partial content"
    print(f"lossy link ({network.mechanism}; {network.notes}): {lost} packets lost; {failures}")


def test_dead_link_is_a_timeout_within_the_timeouts(network: Any, host: Host) -> None:
    """All packets into the service's namespace are lost: a new call times out connecting
    (reads after ATTEMPTS tries, writes after one), and a download under way stops with
    RemoteTimeout after the read timeout: after the right bytes, never a short clean end."""
    size = 32 * MiB
    assert host.call("blobs_write", key="lab/dead", stream=PatternStream(size)) == size
    expected = pattern(size)
    reader = host.call("blobs_open", key="lab/dead")
    try:
        received = bytearray(reader.read(64 * 1024))
        network.impair(loss=1.0)

        def read_on() -> None:
            while chunk := reader.read(MiB):
                received.extend(chunk)

        # What was already in flight drains first; then the read timeout runs out.
        stalled = faults.run_bounded(read_on, LAB_READ + MARGIN + 2, "download over a dead link")
    finally:
        reader.close()
    assert_typed(stalled, RemoteTimeout)
    assert len(received) < size
    assert bytes(received) == expected[: len(received)]

    exists = faults.run_bounded(
        lambda: host.call("blobs_exists", key="lab/dead"),
        ATTEMPTS * LAB_CONNECT + BACKOFF + MARGIN,
        "exists over a dead link",
    )
    assert_typed(exists, RemoteTimeout)
    assert exists.elapsed >= ATTEMPTS * LAB_CONNECT * 0.9, "gave up before the connect timeouts"
    write = faults.run_bounded(
        lambda: host.call("blobs_write", key="lab/dead-2", stream=io.BytesIO(b"x")),
        LAB_CONNECT + MARGIN,
        "write over a dead link",
    )
    assert_typed(write, RemoteTimeout)
    network.clear()
    assert host.call("blobs_exists", key="lab/dead-2") is False
