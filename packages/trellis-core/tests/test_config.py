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
