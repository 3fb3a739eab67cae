from __future__ import annotations

import logging

import pytest

from trellis.core import (
    Config,
    PluginLoadError,
    ProviderNotSelected,
    TrellisError,
    UnknownProvider,
    create_host,
)
from trellis.core.testing import isolated_host

GOOD = """
from trellis.core import hookimpl
TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}

@hookimpl
def core_django_apps():
    return [APP]
"""


def test_builtin_core_plugin_is_registered_like_any_other(trellis_host):
    [record] = trellis_host.plugins()
    assert (record.name, record.status, record.builtin) == ("core", "active", True)
    assert record.distribution == "trellis-core"
    assert record.defines == {"core": "1.2.0"}
    assert "core_url_mounts" in record.hooks


def test_registered_plugin_contributes_to_extension_hooks(trellis_host, make_module):
    record = trellis_host.register(make_module(GOOD, APP="shop"), "shop")
    assert record.status == "active", record.reason
    assert ["shop"] in trellis_host.collect("core_django_apps")
    assert ("shop", ["shop"]) in trellis_host.collect_by_plugin("core_django_apps")


def test_collect_by_plugin_keeps_load_order(trellis_host, make_module):
    for name in ("b_first", "a_second"):
        trellis_host.register(make_module(GOOD, APP=name), name)
    names = [name for name, _ in trellis_host.collect_by_plugin("core_django_apps")]
    assert names == ["core", "b_first", "a_second"]


def test_misspelled_hook_is_quarantined_with_a_suggestion(trellis_host, make_module):
    source = GOOD.replace("def core_django_apps", "def core_django_app")
    record = trellis_host.register(make_module(source, APP="x"), "typo")
    assert record.status == "quarantined"
    assert "'core_django_app'" in record.reason
    assert "did you mean 'core_django_apps'" in record.reason
    assert trellis_host.collect("core_django_apps") == [["trellis.core.django"]]


def test_optional_hook_of_absent_contract_is_allowed(trellis_host, make_module):
    source = GOOD + "\n@hookimpl(optionalhook=True)\ndef tasks_periodic():\n    return []\n"
    assert trellis_host.register(make_module(source, APP="x"), "soft").status == "active"


def test_wrong_contract_range_names_both_versions(trellis_host, make_module):
    source = GOOD.replace('">=1.0,<2"', '">=2.0,<3"')
    record = trellis_host.register(make_module(source, APP="x"), "future")
    assert record.status == "quarantined"
    assert "'core'" in record.reason
    assert "'>=2.0,<3'" in record.reason
    assert "version 1.2.0" in record.reason


def test_missing_contract_declaration_is_quarantined(trellis_host, make_module):
    source = GOOD.replace('TRELLIS_IMPLEMENTS = {"core": ">=1.0,<2"}', "")
    record = trellis_host.register(make_module(source, APP="x"), "undeclared")
    assert record.status == "quarantined"
    assert "TRELLIS_IMPLEMENTS = {'core': '>=1.2.0,<2'}" in record.reason


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ('TRELLIS_IMPLEMENTS = {"core": "one"}', "not a valid version range"),
        ('TRELLIS_IMPLEMENTS = ["core"]', "TRELLIS_IMPLEMENTS must map"),
        ('TRELLIS_PROVIDES = {"kv": ""}', "TRELLIS_PROVIDES must map"),
        ("TRELLIS_HOOKSPECS = ['not a module']", "TRELLIS_HOOKSPECS must be a list"),
    ],
)
def test_malformed_declarations_are_quarantined(trellis_host, make_module, declaration, message):
    record = trellis_host.register(make_module(GOOD + declaration, APP="x"), "bad")
    assert record.status == "quarantined"
    assert message in record.reason


def test_pluggy_validation_failure_is_quarantined(trellis_host, make_module):
    source = GOOD.replace("def core_django_apps():", "def core_django_apps(request):")
    record = trellis_host.register(make_module(source, APP="x"), "badargs")
    assert record.status == "quarantined"
    assert "pluggy refused it" in record.reason and "request" in record.reason
    assert not trellis_host.plugin_manager.has_plugin("badargs")


def test_hookspec_names_must_carry_the_contract_prefix(trellis_host, make_module):
    spec = make_module(
        "from trellis.core import Contract, hookspec\n"
        "CONTRACT = Contract('shop', '1.0.0')\n"
        "@hookspec\ndef store_open(): ...\n"
    )
    record = trellis_host.register(make_module("", TRELLIS_HOOKSPECS=[spec]), "shop")
    assert record.status == "quarantined"
    assert "'shop_<verb>'" in record.reason and "store_open" in record.reason


def test_duplicate_name_keeps_the_first_and_quarantines_the_second(trellis_host, make_module):
    trellis_host.register(make_module(GOOD, APP="one"), "dup")
    second = trellis_host.register(make_module(GOOD, APP="two"), "dup")
    assert second.status == "quarantined" and "already used" in second.reason
    assert ["one"] in trellis_host.collect("core_django_apps")
    assert ["two"] not in trellis_host.collect("core_django_apps")


def test_strict_mode_refuses_to_start(make_module):
    broken = make_module(GOOD.replace("core_django_apps", "core_django_apz"), APP="x")
    with pytest.raises(PluginLoadError, match=r"(?s)strict mode.*core_django_apz"):
        create_host(Config(strict=True), discover=False, plugins=[broken])


def test_deny_and_allow_lists_disable_without_importing(make_module):
    def explode():
        raise AssertionError("a disabled plugin must not be imported")

    from trellis.core._loader import Candidate

    host = create_host(Config(deny=frozenset({"nope"})), discover=False)
    host._load([Candidate("nope", "nope.plugin", explode)])
    [record] = [r for r in host.plugins() if r.name == "nope"]
    assert record.status == "disabled" and "deny" in record.reason

    allow_only_core = create_host(Config(allow=frozenset({"core"})), discover=False)
    allow_only_core._load([Candidate("other", "other.plugin", explode)])
    assert {r.name: r.status for r in allow_only_core.plugins()} == {
        "core": "active",
        "other": "disabled",
    }


def test_import_failure_is_quarantined_with_the_exception():
    from trellis.core._loader import Candidate

    def broken():
        raise ModuleNotFoundError("No module named 'missing_dep'")

    host = create_host(Config(), discover=False)
    host._load([Candidate("broken", "broken.plugin", broken, "trellis-broken", "0.3.0")])
    [record] = [r for r in host.plugins() if r.name == "broken"]
    assert record.status == "quarantined"
    assert record.reason == "import failed: ModuleNotFoundError: No module named 'missing_dep'"
    assert (record.distribution, record.version) == ("trellis-broken", "0.3.0")
    assert any("broken" in p for p in host.problems())


def test_unknown_hook_names_suggest_and_list_contracts(trellis_host):
    with pytest.raises(TrellisError, match=r"did you mean 'core_url_mounts'.*installed contracts"):
        trellis_host.collect("core_url_mount")


# -- providers ---------------------------------------------------------------------------------


def test_only_the_selected_provider_answers(kv):
    host = isolated_host(kv("memory"), kv("redis"), providers={"kv": "redis"})
    assert host.call("kv_get", key="a") == "redis:a"
    host = isolated_host(kv("memory"), kv("redis"), providers={"kv": "memory"})
    assert host.call("kv_get", key="a") == "memory:a"


def test_missing_selection_lists_the_choices(kv):
    host = isolated_host(kv("memory"), kv("redis"))
    with pytest.raises(ProviderNotSelected) as info:
        host.call("kv_get", key="a")
    assert "TRELLIS_KV_PROVIDER" in str(info.value)
    assert "memory, redis" in str(info.value)
    assert any("TRELLIS_KV_PROVIDER" in problem for problem in host.problems())


def test_unknown_selection_names_source_and_lists_the_choices(kv):
    host = create_host(
        Config.load({}, {"TRELLIS_KV_PROVIDER": "s3"}),
        discover=False,
        plugins=[kv("memory"), kv("redis")],
    )
    with pytest.raises(
        UnknownProvider,
        match=r"TRELLIS_KV_PROVIDER selects provider 's3'.*"
        r"available: memory, redis",
    ):
        host.call("kv_get", key="a")


def test_contract_default_provider_applies_without_selection(make_module, kv):
    spec = kv.spec
    object.__setattr__(spec.CONTRACT, "default_provider", "redis")
    host = isolated_host(kv("memory"), kv("redis"))
    assert host.call("kv_get", key="k") == "redis:k"


def test_quarantined_provider_is_named_when_selected(kv, make_module):
    broken = make_module(
        "from trellis.core import hookimpl\n"
        "TRELLIS_IMPLEMENTS = {'kv': '>=9'}\nTRELLIS_PROVIDES = {'kv': 'disk'}\n"
        "TRELLIS_HOOKSPECS = [SPEC]\n@hookimpl\ndef kv_get(key):\n    return 'disk'\n",
        SPEC=kv.spec,
    )
    host = isolated_host(kv("memory"), broken, providers={"kv": "disk"})
    with pytest.raises(UnknownProvider, match=r"quarantined.*available: memory") as info:
        host.call("kv_get", key="a")
    message = str(info.value)
    assert "not installed" not in message  # it is installed, only quarantined
    assert f"which is installed but quarantined (plugin {broken.__name__!r}: " in message
    assert "version 1.2.0" in message  # the quarantine reason


def test_provider_hook_without_provider_name_is_quarantined(kv, make_module):
    rogue = make_module(
        "from trellis.core import hookimpl\nTRELLIS_IMPLEMENTS = {'kv': '>=1'}\n"
        "TRELLIS_HOOKSPECS = [SPEC]\n@hookimpl\ndef kv_get(key):\n    return 'rogue'\n",
        SPEC=kv.spec,
    )
    host = isolated_host(kv("memory"), rogue, providers={"kv": "memory"})
    [record] = [r for r in host.plugins() if r.name == rogue.__name__]
    assert record.status == "quarantined" and "TRELLIS_PROVIDES" in record.reason
    assert host.call("kv_get", key="a") == "memory:a"


def test_two_plugins_cannot_share_a_provider_name(kv):
    first, second = kv("memory"), kv("memory")
    host = isolated_host(providers={"kv": "memory"})
    host.register(first, "memory_one")
    record = host.register(second, "memory_two")
    assert record.status == "quarantined"
    assert "provider name 'memory' for contract 'kv' is already taken by plugin 'memory_one'" in (
        record.reason
    )


def test_wrappers_of_other_plugins_still_wrap_provider_calls(kv, make_module):
    wrapper = make_module(
        "from trellis.core import hookimpl\nTRELLIS_IMPLEMENTS = {'kv': '>=1'}\n"
        "@hookimpl(wrapper=True)\ndef kv_get(key):\n    result = yield\n"
        "    return result.upper()\n"
    )
    host = isolated_host(kv("memory"), wrapper, providers={"kv": "memory"})
    assert host.call("kv_get", key="a") == "MEMORY:A"


def test_calling_hooks_of_the_wrong_kind_is_explained(kv):
    host = isolated_host(kv("memory"), providers={"kv": "memory"})
    with pytest.raises(TrellisError, match=r"provider hook: call it with host.call"):
        host.collect("kv_get", key="a")
    with pytest.raises(TrellisError, match=r"extension hook: call it with host.collect"):
        host.call("kv_observers")


def test_hooks_describe_contract_kind_and_call_order(kv, make_module):
    host = isolated_host(kv("memory"), kv("redis"), providers={"kv": "redis"})
    host.call("kv_get", key="a")
    info = {h.name: h for h in host.hooks()}["kv_get"]
    assert (info.contract, info.contract_version, info.kind) == ("kv", "1.2.0", "provider")
    assert info.signature == "kv_get(key: str) -> str | None"
    assert [i.plugin for i in info.implementers] == ["kv_redis", "kv_memory"]
    assert [i.selected for i in info.implementers] == [True, False]
    assert info.calls == 1 and info.implementers[0].calls == 1
    assert info.implementers[1].calls == 0


def test_unregister_removes_contributions(trellis_host, make_module):
    trellis_host.register(make_module(GOOD, APP="temp"), "temp")
    trellis_host.unregister("temp")
    assert ["temp"] not in trellis_host.collect("core_django_apps")
    assert "temp" not in [r.name for r in trellis_host.plugins()]


def test_in_process_plugins_load_as_one_batch_whatever_their_order(kv):
    provider = kv("memory")
    definer_last = isolated_host(provider, providers={"kv": "memory"})
    assert definer_last.call("kv_get", key="a") == "memory:a"


def test_optional_hook_of_absent_contract_is_kept_with_monitoring_on(make_module, kv):
    source = (
        "from trellis.core import hookimpl\nTRELLIS_IMPLEMENTS = {'core': '>=1,<2', 'kv': '>=1'}\n"
        "@hookimpl\ndef core_django_apps():\n    return []\n"
        "@hookimpl(optionalhook=True)\ndef kv_observers():\n    return 'early'\n"
    )
    for monitor in (True, False):
        host = isolated_host(make_module(source, "early"), monitor=monitor)
        host.register(kv("memory"))
        assert host.collect("kv_observers") == ["early"], f"monitor={monitor}"


def test_selection_made_in_code_is_not_blamed_on_the_environment(kv):
    host = isolated_host(kv("memory"), providers={"kv": "s3"})
    with pytest.raises(UnknownProvider) as info:
        host.call("kv_get", key="a")
    assert "TRELLIS_KV_PROVIDER selects" not in str(info.value)
    assert "Config.providers['kv'] selects provider 's3'" in str(info.value)


def test_unknown_provider_mentions_plugins_that_failed_to_import(kv):
    from trellis.core._loader import Candidate

    def broken():
        raise ImportError("boto3 is not installed")

    host = isolated_host(kv("memory"), providers={"kv": "s3"})
    host._load([Candidate("blobs_s3", "trellis.kv.s3", broken)])
    with pytest.raises(UnknownProvider, match=r"failed to import: 'blobs_s3'"):
        host.call("kv_get", key="a")


def test_allow_list_does_not_drop_built_ins():
    host = create_host(Config(allow=frozenset({"shop"})), discover=False)
    assert [(r.name, r.status) for r in host.plugins()] == [("core", "active")]
    denied = create_host(Config(deny=frozenset({"core"})), discover=False)
    assert [(r.name, r.status) for r in denied.plugins()] == [("core", "disabled")]


def test_declared_range_is_checked_even_without_implementations(trellis_host, make_module):
    record = trellis_host.register(make_module("TRELLIS_IMPLEMENTS = {'core': '>=2,<3'}"), "idle")
    assert record.status == "quarantined"
    assert "'>=2,<3'" in record.reason and "version 1.2.0" in record.reason


def test_duplicate_names_in_one_batch_keep_the_first_working(make_module):
    first = make_module(GOOD, "a.plugin", APP="first")
    second = make_module(GOOD, "b.plugin", APP="second")
    host = isolated_host(first, second)
    statuses = {r.name: r.status for r in host.plugins()}
    assert statuses["plugin"] == "active"
    assert statuses["plugin@b.plugin"] == "quarantined"
    assert ["first"] in host.collect("core_django_apps")


def test_call_provider_reaches_a_provider_that_is_not_selected(kv):
    host = isolated_host(kv("memory"), kv("redis"), providers={"kv": "memory"})
    assert host.call_provider("redis", "kv_get", key="a") == "redis:a"
    assert host.call("kv_get", key="a") == "memory:a"
    assert host.monitor.impl_stats()[("kv_get", "kv_redis")].calls == 1
    with pytest.raises(UnknownProvider, match=r"no active provider 's3'.*available: memory, redis"):
        host.call_provider("s3", "kv_get", key="a")


@pytest.mark.parametrize(("typed", "meant"), [("filesytem", "filesystem"), ("s33", "s3")])
def test_a_misspelled_provider_gets_a_did_you_mean(kv, typed, meant):
    host = isolated_host(kv("filesystem"), kv("s3"), providers={"kv": typed})
    with pytest.raises(UnknownProvider, match=rf"did you mean '{meant}'\?"):
        host.call("kv_get", key="a")
    with pytest.raises(UnknownProvider, match=rf"did you mean '{meant}'\?"):
        host.call_provider(typed, "kv_get", key="a")


def test_a_provider_quarantined_after_load_is_no_longer_selectable(kv, caplog):
    host = isolated_host(kv("memory"), kv("redis"), providers={"kv": "redis"})
    assert host.call("kv_get", key="a") == "redis:a"
    with caplog.at_level(logging.WARNING, logger="trellis.core"):
        record = host.quarantine("kv_redis", "failed while composing the service: boom")
    assert (record.status, record.distribution, record.provides) == (
        "quarantined",
        None,
        {"kv": "redis"},
    )
    with pytest.raises(UnknownProvider, match=r"installed but quarantined .*boom"):
        host.call("kv_get", key="a")
    assert [r.getMessage() for r in caplog.records] == [
        "plugin 'kv_redis' quarantined: failed while composing the service: boom"
    ]
    with pytest.raises(TrellisError, match="no active plugin named 'kv_redis'"):
        host.quarantine("kv_redis", "again")


def test_strict_mode_refuses_a_late_quarantine(kv):
    host = create_host(
        Config(strict=True, providers={"kv": "memory"}), discover=False, plugins=[kv("memory")]
    )
    with pytest.raises(PluginLoadError, match=r"(?s)strict mode.*kv_memory: bad mount"):
        host.quarantine("kv_memory", "bad mount")
    assert {r.name: r.status for r in host.plugins()}["kv_memory"] == "quarantined"


def test_every_quarantine_at_load_logs_one_warning(kv, make_module, caplog):
    broken = [make_module("TRELLIS_IMPLEMENTS = 'core'", f"broken{i}") for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="trellis.core"):
        isolated_host(*broken)
    lines = [r.getMessage() for r in caplog.records if r.name == "trellis.core"]
    assert len(lines) == 3
    assert all(line.startswith("plugin 'broken") and " quarantined: " in line for line in lines)


def test_a_disabled_plugin_is_not_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="trellis.core"):
        create_host(Config(deny=frozenset({"core"})), discover=False)
    assert not [r for r in caplog.records if r.name == "trellis.core"]


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        (Config(deny=frozenset({"kv_redis"})), "listed in the deny setting (TRELLIS_PLUGINS_DENY"),
        (Config(allow=frozenset({"kv_memory"})), "not in the allow setting (TRELLIS_PLUGINS_ALLOW"),
    ],
)
def test_a_disabled_provider_is_named_with_the_setting_that_disabled_it(kv, config, setting):
    # A disabled plugin is never imported, so its TRELLIS_PROVIDES is unknown: it is matched
    # by the entry-point naming convention (<contract>-<provider> or <contract>_<provider>).
    config = Config(allow=config.allow, deny=config.deny, providers={"kv": "redis"})
    host = create_host(config, discover=False, plugins=[kv("memory"), kv("redis")])
    expected = f"which is installed but disabled (plugin 'kv_redis': {setting}"
    for attempt in (
        lambda: host.selected_provider("kv"),
        lambda: host.call("kv_get", key="a"),
        lambda: host.call_provider("redis", "kv_get", key="a"),
    ):
        with pytest.raises(UnknownProvider) as info:
            attempt()
        assert expected in str(info.value)
        assert "not installed" not in str(info.value)
        assert "available: memory" in str(info.value)


def test_a_provider_that_failed_to_import_is_named_by_its_entry_point_name(kv):
    from trellis.core._loader import Candidate

    def broken():
        raise ImportError("No module named 'boto3'")

    host = isolated_host(kv("memory"), providers={"kv": "s3"})
    host._load([Candidate("kv-s3", "trellis.kv.s3", broken, "trellis-kv", "1.0.0")])
    with pytest.raises(UnknownProvider) as info:
        host.selected_provider("kv")
    message = str(info.value)
    assert (
        "Config.providers['kv'] selects provider 's3' for contract 'kv', which is installed but "
        "quarantined (plugin 'kv-s3': import failed: ImportError: No module named 'boto3')"
    ) in message
    assert "not installed" not in message


def test_a_provider_selected_in_the_wrong_case_gets_a_did_you_mean(kv):
    host = create_host(
        Config.load({}, {"TRELLIS_KV_PROVIDER": "S3"}), discover=False, plugins=[kv("s3")]
    )
    with pytest.raises(UnknownProvider, match=r"which is not installed \(did you mean 's3'\?\)"):
        host.selected_provider("kv")


def test_a_late_quarantine_keeps_the_record_and_drops_the_plugin(kv):
    from trellis.core._loader import Candidate

    redis = kv("redis")
    host = isolated_host(kv("memory"), providers={"kv": "redis"})
    host._load([Candidate("kv_redis", redis.__name__, lambda: redis, "trellis-kv", "2.1.0")])
    assert host.plugin("kv_redis") is redis
    record = host.quarantine("kv_redis", "core_url_mounts returned 'x', not a list of UrlMount")
    assert (record.distribution, record.version, record.provides, record.hooks) == (
        "trellis-kv",
        "2.1.0",
        {"kv": "redis"},
        ["kv_get"],
    )
    assert [r for r in host.plugins() if r.name == "kv_redis"] == [record]
    assert host.providers("kv") == {"memory": "kv_memory"}
    assert not host.plugin_manager.has_plugin("kv_redis")
    with pytest.raises(TrellisError, match="no active plugin named 'kv_redis'"):
        host.plugin("kv_redis")
    with pytest.raises(UnknownProvider) as info:
        host.selected_provider("kv")
    assert (
        "which is installed but quarantined (plugin 'kv_redis': core_url_mounts returned 'x'"
    ) in str(info.value)
    with pytest.raises(UnknownProvider, match="installed but quarantined"):
        host.call_provider("redis", "kv_get", key="a")
    assert host.call_provider("memory", "kv_get", key="a") == "memory:a"
    assert any("kv_redis" in problem for problem in host.problems())


def test_only_an_active_plugin_can_be_quarantined(kv):
    host = create_host(
        Config(deny=frozenset({"kv_redis"})), discover=False, plugins=[kv("memory"), kv("redis")]
    )
    for name in ("kv_redis", "kv_nope"):  # disabled, unknown
        with pytest.raises(TrellisError) as info:
            host.quarantine(name, "reason")
        assert str(info.value) == f"no active plugin named {name!r}; active: core, kv_memory"
    assert {r.name: r.status for r in host.plugins()}["kv_redis"] == "disabled"


def test_quarantines_at_load_and_later_log_one_warning_each(kv, make_module, caplog):
    broken = [make_module("TRELLIS_IMPLEMENTS = 'core'", f"broken{i}") for i in range(2)]
    with caplog.at_level(logging.WARNING, logger="trellis.core"):
        host = isolated_host(*broken, kv("memory"), kv("redis"))
        host.quarantine("kv_memory", "late one")
        host.quarantine("kv_redis", "late two")
    lines = [r.getMessage() for r in caplog.records if r.name == "trellis.core"]
    assert len(lines) == 4
    assert lines[2:] == [
        "plugin 'kv_memory' quarantined: late one",
        "plugin 'kv_redis' quarantined: late two",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "trellis.core")
