from __future__ import annotations

import pytest

from trellis.core import Monitor
from trellis.core.testing import isolated_host


def test_provider_calls_are_counted_per_hook_and_per_implementation(kv):
    host = isolated_host(kv("memory"), kv("redis"), providers={"kv": "memory"})
    for _ in range(5):
        host.call("kv_get", key="a")
    hook = host.monitor.hook_stats()["kv_get"]
    impl = host.monitor.impl_stats()[("kv_get", "kv_memory")]
    assert (hook.calls, impl.calls) == (5, 5)
    assert hook.total_ns >= impl.total_ns > 0
    assert ("kv_get", "kv_redis") not in host.monitor.impl_stats()


def test_extension_calls_are_counted(trellis_host):
    trellis_host.collect("core_django_apps")
    assert trellis_host.monitor.hook_stats()["core_django_apps"].calls == 1
    assert trellis_host.monitor.impl_stats()[("core_django_apps", "core")].calls == 1


def test_monitoring_off_wraps_nothing_and_counts_nothing(kv):
    host = isolated_host(kv("memory"), providers={"kv": "memory"}, monitor=False)
    assert host.call("kv_get", key="a") == "memory:a"
    assert host.monitor.hook_stats() == {}
    assert host.monitor.impl_stats() == {}
    assert host.plugin_manager.get_plugin("kv_memory") is host.plugin("kv_memory")


def test_timed_wrapper_counts_failures_and_keeps_the_signature():
    monitor = Monitor()

    def impl(key):
        raise ValueError(key)

    timed = monitor.timed("kv_get", "p", impl)
    with pytest.raises(ValueError, match="x"):
        timed("x")
    assert monitor.impl_stats()[("kv_get", "p")].calls == 1
    import inspect

    assert list(inspect.signature(timed).parameters) == ["key"]


def test_reset_and_mean():
    monitor = Monitor()
    monitor.record_hook("h", 3000)
    monitor.record_hook("h", 1000)
    assert monitor.hook_stats()["h"].mean_us == 2.0
    monitor.reset()
    assert monitor.hook_stats() == {}


def test_collect_by_plugin_counts_as_one_hook_call(trellis_host):
    trellis_host.collect_by_plugin("core_url_mounts")
    assert trellis_host.monitor.hook_stats()["core_url_mounts"].calls == 1
