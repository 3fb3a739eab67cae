from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["household_id", "village", "household_size"],
    "properties": {
        "household_id": {"type": "string"},
        "village": {"type": "string", "minLength": 1},
        "household_size": {"type": "integer", "minimum": 1},
        "moved_away": {"type": "boolean"},
        "age": {"type": "integer", "minimum": 0},
    },
}
RULES: list[dict[str, Any]] = [
    {
        "case_type": "household",
        "case_id": "/household_id",
        "action": "upsert",
        "properties": {"village": "/village", "size": "/household_size"},
        "close_when": "/moved_away",
    }
]


@pytest.fixture(autouse=True)
def blob_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test stores attachment content under its own directory."""
    root = tmp_path / "blobs"
    monkeypatch.setenv("TRELLIS_BLOBS_ROOT", str(root))
    for name in ("MAX_BODY", "MAX_ATTACHMENT", "MAX_ATTACHMENTS"):
        monkeypatch.delenv(f"TRELLIS_FORMS_{name}", raising=False)
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
class Demo:
    domain: str
    user: Any
    auth: str
    outsider: Any
    outsider_auth: str


@pytest.fixture
def demo(django_user_model: Any) -> Demo:
    """Domain ``demo`` with form ``household_visit`` v1, a member and a non-member with keys."""
    from trellis import forms

    forms.domain_create(name="demo", title="Demo")
    forms.domain_create(name="other")
    user = django_user_model.objects.create_user("ada", "ada@example.org")
    outsider = django_user_model.objects.create_user("eve", "eve@example.org")
    forms.member_add(domain="demo", user=user)
    forms.member_add(domain="other", user=outsider)
    forms.form_define(
        domain="demo", name="household_visit", version=1, schema=SCHEMA, case_rules=RULES
    )
    return Demo(
        "demo",
        user,
        forms.api_key_create(user=user, name="phone").authorization,
        outsider,
        forms.api_key_create(user=outsider, name="laptop").authorization,
    )


def nothing_written(stored_files: Callable[[], list[str]]) -> list[str]:
    """What a failed submission left behind (empty when nothing): rows, events, blob content."""
    from trellis.blobs.models import BlobMeta
    from trellis.events.models import OutboxEvent
    from trellis.forms.models import Case, CaseChange, Submission

    left = []
    for model in (Submission, Case, CaseChange, OutboxEvent, BlobMeta):
        if model.objects.exists():
            left.append(f"{model.__name__}: {model.objects.count()} row(s)")
    left += [f"blob content {name}" for name in stored_files()]
    return left


@pytest.fixture
def run_on_postgres(trellis_postgres_script: Callable[[str], dict[str, Any]]) -> Any:
    """Run a script in a fresh process on a fresh PostgreSQL database (trellis-core's
    ``trellis_postgres_script``) and return the JSON object its last line prints."""
    return trellis_postgres_script
