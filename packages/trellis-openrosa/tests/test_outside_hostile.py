"""Hostile input found by an outside review: each a clear OpenRosaResponse, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from .collect import instance
from .test_hostile import HOUSEHOLD, nothing_stored, post, refused, xml_part

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("depth", [600, 100_000])
def test_deeply_nested_xml_is_refused_not_a_server_error(
    field: Any, stored_files: Any, depth: int
) -> None:
    """Undeclared elements nested deeper than Python's recursion limit were a 500 (JSON)."""
    body = HOUSEHOLD + "<a>" * depth + "v" + "</a>" * depth
    response = post({"xml_submission_file": xml_part(instance("household_visit", "1", body))})
    refused(response, 400, "nested deeper than")
    assert nothing_stored(stored_files) == []


def test_an_xml_text_field_over_djangos_memory_limit_is_413_naming_the_xml_part(
    field: Any, stored_files: Any, settings: Any
) -> None:
    """An ``xml_submission_file`` sent as a text field (no file name) over
    DATA_UPLOAD_MAX_MEMORY_SIZE was a 400 about "the submission JSON"."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    xml = instance("household_visit", "1", HOUSEHOLD + "<pad>" + "x" * 4096 + "</pad>")
    response = post({"xml_submission_file": xml.decode()})
    refused(response, 413, "xml_submission_file")
    assert "JSON" not in response.content.decode()
    assert nothing_stored(stored_files) == []


def test_too_many_file_parts_is_413(field: Any, stored_files: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    from django.core.files.uploadedfile import SimpleUploadedFile

    parts: dict[str, Any] = {
        "xml_submission_file": xml_part(instance("household_visit", "1", HOUSEHOLD))
    }
    for k in range(4):
        parts[f"f{k}.jpg"] = SimpleUploadedFile(f"f{k}.jpg", b"x", "image/jpeg")
    response = post(parts)
    refused(response, 413, "file parts")
    assert nothing_stored(stored_files) == []
