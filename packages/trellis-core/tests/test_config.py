from __future__ import annotations

import pytest

from trellis.core import Config, ConfigurationError


def test_defaults_load_everything_and_monitor():
    config = Config.load({}, {})
    assert (config.allow, config.deny, config.strict, config.monitor) == (
        None,
        frozenset(),
        False,
        True,
    )
    assert config.allows("anything")


def test_environment_overrides_settings():
    config = Config.load(
        {"ALLOW": ["a", "b"], "STRICT": False, "PROVIDERS": {"blobs": "filesystem"}},
        {"TRELLIS_PLUGINS_ALLOW": "b, c", "TRELLIS_STRICT": "yes", "TRELLIS_BLOBS_PROVIDER": "s3"},
    )
    assert config.allow == frozenset({"b", "c"})
    assert config.strict is True
    assert config.providers == {"blobs": "s3"}
    assert config.sources == {"blobs": "TRELLIS_BLOBS_PROVIDER"}


def test_deny_wins_over_allow():
    config = Config.load({"ALLOW": ["a"], "DENY": ["a"]}, {})
    assert not config.allows("a")
    assert not config.allows("z")


def test_provider_from_settings_remembers_its_source():
    config = Config.load({"PROVIDERS": {"blobs": "s3"}}, {})
    assert config.sources["blobs"] == "TRELLIS['PROVIDERS']['blobs']"


@pytest.mark.parametrize(
    ("settings", "environ", "message"),
    [
        ({"STRIKT": True}, {}, "unknown key(s) in the TRELLIS setting: STRIKT"),
        ({}, {"TRELLIS_STRICT": "maybe"}, "TRELLIS_STRICT must be a boolean"),
        ({"MONITOR": "sometimes"}, {}, "TRELLIS['MONITOR'] must be a boolean"),
        ({"ALLOW": [1, 2]}, {}, "TRELLIS['ALLOW'] must be a list of plugin names"),
        ({"PROVIDERS": ["s3"]}, {}, "TRELLIS['PROVIDERS'] must map contract names"),
        ({"PROVIDERS": {"blobs": ""}}, {}, "TRELLIS['PROVIDERS']['blobs'] must be a provider"),
    ],
)
def test_bad_values_name_the_setting(settings, environ, message):
    with pytest.raises(ConfigurationError) as info:
        Config.load(settings, environ)
    assert message in str(info.value)


# -- the settings rule: environment, then the Django setting of the same name, then TRELLIS ---


@pytest.mark.parametrize(
    ("environ", "named", "trellis", "provider", "source"),
    [
        ({"TRELLIS_BLOBS_PROVIDER": "s3"}, {}, {}, "s3", "TRELLIS_BLOBS_PROVIDER"),
        ({}, {"TRELLIS_BLOBS_PROVIDER": "s3"}, {}, "s3", "settings.TRELLIS_BLOBS_PROVIDER"),
        ({}, {}, {"PROVIDERS": {"blobs": "s3"}}, "s3", "TRELLIS['PROVIDERS']['blobs']"),
        # the environment wins over both settings; the named setting over the TRELLIS dict
        (
            {"TRELLIS_BLOBS_PROVIDER": "gcs"},
            {"TRELLIS_BLOBS_PROVIDER": "s3"},
            {"PROVIDERS": {"blobs": "filesystem"}},
            "gcs",
            "TRELLIS_BLOBS_PROVIDER",
        ),
        (
            {},
            {"TRELLIS_BLOBS_PROVIDER": "s3"},
            {"PROVIDERS": {"blobs": "filesystem"}},
            "s3",
            "settings.TRELLIS_BLOBS_PROVIDER",
        ),
        # blank counts as unset for a name, in either place
        ({"TRELLIS_BLOBS_PROVIDER": " "}, {"TRELLIS_BLOBS_PROVIDER": "s3"}, {}, "s3", None),
        ({}, {"TRELLIS_BLOBS_PROVIDER": ""}, {"PROVIDERS": {"blobs": "s3"}}, "s3", None),
    ],
)
def test_every_form_of_a_provider_selection(environ, named, trellis, provider, source):
    config = Config.load(trellis, environ, named=named)
    assert config.providers["blobs"] == provider
    if source is not None:
        assert config.sources["blobs"] == source


@pytest.mark.parametrize(
    ("environ", "named", "trellis", "expected"),
    [
        ({}, {"TRELLIS_STRICT": True}, {}, {"strict": True}),
        ({}, {"TRELLIS_MONITOR": False}, {"MONITOR": True}, {"monitor": False}),
        ({"TRELLIS_MONITOR": "on"}, {"TRELLIS_MONITOR": False}, {}, {"monitor": True}),
        ({}, {"TRELLIS_PLUGINS_ALLOW": ["a", "b"]}, {"ALLOW": ["c"]}, {"allow": {"a", "b"}}),
        ({}, {"TRELLIS_PLUGINS_DENY": "x, y"}, {}, {"deny": {"x", "y"}}),
        ({"TRELLIS_PLUGINS_DENY": "z"}, {"TRELLIS_PLUGINS_DENY": ["x"]}, {}, {"deny": {"z"}}),
    ],
)
def test_every_host_setting_reads_the_django_setting_of_its_name(environ, named, trellis, expected):
    config = Config.load(trellis, environ, named=named)
    for field, value in expected.items():
        assert getattr(config, field) == value


def test_only_trellis_names_are_read_from_a_settings_module():
    named = {"DEBUG": True, "BLOBS_PROVIDER": "s3", "TRELLIS_BLOBS_PROVIDER": "s3"}
    assert Config.load({}, {}, named=named).providers == {"blobs": "s3"}


@pytest.mark.parametrize(
    ("named", "message"),
    [
        ({"TRELLIS_BLOBS_PROVIDER": 3}, "settings.TRELLIS_BLOBS_PROVIDER must be a provider name"),
        ({"TRELLIS_STRICT": "maybe"}, "settings.TRELLIS_STRICT must be a boolean"),
        ({"TRELLIS_PLUGINS_ALLOW": 7}, "settings.TRELLIS_PLUGINS_ALLOW must be a list of plugin"),
    ],
)
def test_bad_django_settings_name_themselves(named, message):
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        Config.load({}, {}, named=named)


@pytest.mark.django_db
def test_the_process_host_reads_a_provider_from_django_settings(settings, monkeypatch):
    from trellis.core import get_host, set_host

    monkeypatch.delenv("TRELLIS_BLOBS_PROVIDER", raising=False)
    settings.TRELLIS_BLOBS_PROVIDER = "s3"
    previous = get_host()
    set_host(None)
    try:
        host = get_host()
        assert host.config.providers["blobs"] == "s3"
        assert host.config.sources["blobs"] == "settings.TRELLIS_BLOBS_PROVIDER"
    finally:
        set_host(previous)


def test_compose_reads_provider_settings_from_the_settings_module(monkeypatch):
    from trellis.core import get_host, set_host
    from trellis.core.django import compose

    monkeypatch.delenv("TRELLIS_BLOBS_PROVIDER", raising=False)
    namespace = {"INSTALLED_APPS": [], "MIDDLEWARE": [], "TRELLIS_BLOBS_PROVIDER": "s3"}
    previous = get_host()
    try:
        host = compose(namespace)
        assert host.config.providers["blobs"] == "s3"
    finally:
        set_host(previous)


@pytest.mark.parametrize(
    ("environ", "django", "expected"),
    [
        ({"TRELLIS_X": " env "}, "django", "env"),
        ({"TRELLIS_X": "  "}, "django", "django"),
        ({}, " django ", "django"),
        ({}, "", None),
        ({}, None, None),
        ({}, 5, 5),
    ],
)
def test_read_setting_follows_the_rule(settings, environ, django, expected):
    from trellis.core import read_setting

    settings.TRELLIS_X = django
    assert read_setting("TRELLIS_X", environ=environ) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 7),
        ("512", 512),
        ("10MiB", 10 * 2**20),
        (" 2 kb ", 2048),
        ("1G", 2**30),
        ("10MiB\n", 10 * 2**20),  # an environment value is stripped
        (4096, 4096),
    ],
)
def test_a_size_setting_reads_units(monkeypatch, value, expected):
    from trellis.core import read_size_setting

    monkeypatch.delenv("TRELLIS_TEST_SIZE", raising=False)
    if isinstance(value, str):
        monkeypatch.setenv("TRELLIS_TEST_SIZE", value)
    elif value is not None:
        from django.conf import settings

        monkeypatch.setattr(settings, "TRELLIS_TEST_SIZE", value, raising=False)
    assert read_size_setting("TRELLIS_TEST_SIZE", 7) == expected


@pytest.mark.parametrize("value", ["0", "0MiB", "-1", "10 PiB", "ten", "1.5MiB", "1\u212aiB"])
def test_a_bad_size_setting_names_itself(monkeypatch, value):
    from trellis.core import read_size_setting

    monkeypatch.setenv("TRELLIS_TEST_SIZE", value)
    with pytest.raises(ConfigurationError, match="TRELLIS_TEST_SIZE must be a positive number"):
        read_size_setting("TRELLIS_TEST_SIZE", 7)
