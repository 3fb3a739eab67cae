"""Fixtures: a domain with a mobile worker (Digest credentials recorded), XLSForms in
pyxform's markdown tables, and an ODK Collect-like client against a live server."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SIMPLE = """
| survey |
|        | type          | name           | label          |
|        | text          | household_id   | Household      |
|        | text          | village        | Village        |
|        | integer       | household_size | People        |
|        | select_one yn | moved_away     | Moved away?    |
| choices |
|         | list_name | name | label |
|         | yn        | yes  | Yes   |
|         | yn        | no   | No    |
| settings |
|          | form_id         | version | form_title      |
|          | household_visit | 1       | Household visit |
"""

REPEATS = """
| survey |
|        | type         | name        | label   |
|        | text         | village     | Village |
|        | begin repeat | members     | Members |
|        | text         | member_name | Name    |
|        | integer      | age         | Age     |
|        | end repeat   |             |         |
| settings |
|          | form_id | version |
|          | census  | 2026.1  |
"""

IMAGES = """
| survey |
|        | type  | name   | label   | media::image |
|        | text  | place  | Place   | logo.png     |
|        | image | photo  | Photo   |              |
|        | image | second | Another |              |
| settings |
|          | form_id    | version |
|          | site_photo | 1       |
"""

ENTITIES = """
| survey |
|        | type    | name    | label   | save_to  |
|        | text    | species | Species | species  |
|        | integer | height  | Height  | height_m |
| entities |
|          | list_name | label    |
|          | trees     | ${species} |
| settings |
|          | form_id    | version |
|          | tree_visit | 1       |
"""


def encrypted_form() -> str:
    """A form with a real RSA public key (submissions are encrypted with it)."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"""
| survey |
|        | type  | name  | label |
|        | text  | secret | Secret |
|        | image | photo  | Photo  |
| settings |
|          | form_id | version | public_key |
|          | sealed  | 1       | {base64.b64encode(public).decode()} |
"""


@pytest.fixture(autouse=True)
def blob_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test stores blob content under its own directory."""
    root = tmp_path / "blobs"
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(root))
    for name in ("TRELLIS_OPENROSA_MAX_BODY", "TRELLIS_OPENROSA_REALM"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def stored_files(blob_root: Path) -> Callable[[], list[str]]:
    """Every file under the blob root (content and temporary files alike)."""

    def files() -> list[str]:
        if not blob_root.exists():
            return []
        return sorted(
            os.path.relpath(os.path.join(d, f), blob_root)
            for d, _, names in os.walk(blob_root)
            for f in names
        )

    return files


@dataclass
class Field:
    domain: str
    worker: Any
    password: str
    outsider: Any


PASSWORD = "correct horse battery"


@pytest.fixture
def field(django_user_model: Any) -> Field:
    """Domain ``demo`` with the household XLSForm, a mobile worker and a worker of ``other``.

    Passwords are set through ``set_password`` + ``save``: the Digest recorder (a password
    validator the plugin installs) records their Digest credentials.
    """
    from trellis import forms, openrosa

    forms.domain_create(name="demo")
    forms.domain_create(name="other")
    worker = django_user_model.objects.create_user("ada")
    outsider = django_user_model.objects.create_user("eve")
    for user in (worker, outsider):
        user.set_password(PASSWORD)  # create_user(password=) hashes without telling validators
        user.save()
    forms.member_add(domain="demo", user=worker)
    forms.member_add(domain="other", user=outsider)
    openrosa.xlsform_add(domain="demo", content=SIMPLE.encode(), filename="household.md")
    return Field("demo", worker, PASSWORD, outsider)
