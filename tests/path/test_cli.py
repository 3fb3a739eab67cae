"""tools/path/_cli.py and _proc.py: options with clear errors; what a stage's environment holds."""

from __future__ import annotations

import argparse

import pytest

from tools.path import main, parse_stages
from tools.path._proc import clean_env


@pytest.mark.parametrize(
    ("text", "stages"),
    [("1,2,3,4", (1, 2, 3, 4)), ("3,1", (1, 3)), (" 4 ", (4,)), ("2,2", (2,))],
)
def test_stages(text: str, stages: tuple[int, ...]):
    assert parse_stages(text) == stages


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5", "'5' is not a stage: choose from 1, 2, 3, 4"),
        ("one", "'one' is not a stage"),
        ("", "is not a list of stages"),
        ("1,,3", "is not a list of stages"),
        ("-1", "'-1' is not a stage"),
    ],
)
def test_bad_stages_say_what_to_give(text: str, message: str):
    with pytest.raises(argparse.ArgumentTypeError, match=message) as raised:
        parse_stages(text)
    assert "--stages 1,3" in str(raised.value)


def test_the_cli_refuses_a_bad_option_before_doing_anything(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as raised:
        main(["--stages", "1,7"])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "argument --stages: '7' is not a stage: choose from 1, 2, 3, 4" in err
    with pytest.raises(SystemExit):
        main(["--iterations", "0"])
    assert "'0' is not a whole number of at least 1" in capsys.readouterr().err


def test_the_help_names_the_options(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    for option in ("--stages", "--keep", "--output", "--iterations"):
        assert option in out


def test_no_setting_or_credential_of_the_caller_reaches_a_stage():
    caller = {
        "PATH": "/usr/bin",
        "HOME": "/home/me",
        "LANG": "C.UTF-8",
        "TRELLIS_BLOBS_PROVIDER": "s3",
        "TRELLIS_DATA_DIR": "/srv/data",
        "DJANGO_SETTINGS_MODULE": "hq.settings",
        "DATABASE_URL": "postgres://x",
        "TWINE_PASSWORD": "pw",
        "PIP_INDEX_URL": "https://user:pw@example.org/simple/",
        "UV_INDEX_URL": "https://example.org/simple/",
        "AWS_SECRET_ACCESS_KEY": "k",
        "GITHUB_TOKEN": "t",
        "PYTHONPATH": "/work/main",
        "VIRTUAL_ENV": "/work/main/.venv",
        "GIT_DIR": "/elsewhere/.git",
    }
    env = clean_env({"TRELLIS_DATA_DIR": "/tmp/stage"}, base=caller)
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/me",
        "LANG": "C.UTF-8",
        "TRELLIS_DATA_DIR": "/tmp/stage",
    }
