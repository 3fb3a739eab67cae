"""System checks: the receiver's limits must parse."""

from __future__ import annotations

import pytest
from django.core import checks

from trellis.forms import _settings


def test_limits_have_defaults_and_units(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (_settings.max_body(), _settings.max_attachment(), _settings.max_attachments()) == (
        20 * 1024 * 1024,
        10 * 1024 * 1024,
        20,
    )
    monkeypatch.setenv("TRELLIS_FORMS_MAX_ATTACHMENT", "512KiB")
    assert _settings.max_attachment() == 512 * 1024


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRELLIS_FORMS_MAX_BODY", "lots"),
        ("TRELLIS_FORMS_MAX_ATTACHMENT", "0"),
        ("TRELLIS_FORMS_MAX_ATTACHMENTS", "-1"),
    ],
)
def test_a_bad_limit_is_a_check_error_naming_it(monkeypatch, name, value) -> None:
    monkeypatch.setenv(name, value)
    errors = [m for m in checks.run_checks() if m.id == "trellis_forms.E001"]
    assert len(errors) == 1
    assert name in errors[0].msg and repr(value) in errors[0].msg
