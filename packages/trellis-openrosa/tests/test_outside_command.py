"""``manage.py openrosa_xlsform``, found by an outside review."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

UPDATE = """
| survey |
|        | type                           | name   | label  | save_to  |
|        | csv-external                   | trees  |        |          |
|        | select_one_from_file trees.csv | tree   | Tree   |          |
|        | integer                        | height | Height | height_m |
| entities |
|          | list_name | entity_id |
|          | trees     | ${tree}   |
| settings |
|          | form_id     | version |
|          | tree_update | 1       |
"""


def test_an_entity_list_is_not_reported_as_a_missing_media_file(field: Any, tmp_path: Path) -> None:
    """trees.csv is served from the domain's cases: nothing to upload, nothing lacking."""
    path = tmp_path / "tree_update.md"
    path.write_text(UPDATE)
    out = io.StringIO()
    call_command("openrosa_xlsform", "demo", str(path), stdout=out)
    assert "tree_update" in out.getvalue()
    assert "lacks" not in out.getvalue(), out.getvalue()
