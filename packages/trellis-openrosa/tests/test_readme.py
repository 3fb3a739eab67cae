"""The README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.django_db
def test_readme_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(tmp_path / "blobs"))
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    example = next(b for b in blocks if "xlsform_add" in b)
    exec(compile(example, str(README), "exec"), {})
    from trellis.openrosa.models import XForm

    assert XForm.objects.get().domain.name == "clinic"


def test_the_settings_line_names_the_recorder() -> None:
    from trellis.openrosa import auth

    text = README.read_text(encoding="utf-8")
    assert '"trellis.openrosa.auth.DigestPasswordRecorder"' in text
    assert hasattr(auth, "DigestPasswordRecorder")
