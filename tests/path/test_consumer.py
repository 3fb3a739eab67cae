"""tools/path/_consumer.py: the consumer is hashed and copied; a byte differing is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.path import combined, copy_consumer, differences, digest_tree

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = ROOT / "examples" / "consumer"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return copy_consumer(CONSUMER, tmp_path / "consumer")


def test_a_copy_is_identical(copy: Path):
    expected = digest_tree(CONSUMER)
    assert expected, "examples/consumer holds no files"
    assert differences(expected, digest_tree(copy), "copy") == []
    assert combined(digest_tree(copy)) == combined(expected)


def test_one_byte_changed_is_named(copy: Path):
    settings = copy / "consumer" / "settings.py"
    data = bytearray(settings.read_bytes())
    data[-2] ^= 0x01
    settings.write_bytes(bytes(data))
    found = differences(digest_tree(CONSUMER), digest_tree(copy), "stage 3")
    assert len(found) == 1
    assert found[0].startswith("stage 3: consumer/settings.py differs (sha256 ")
    assert combined(digest_tree(copy)) != combined(digest_tree(CONSUMER))


def test_a_missing_and_an_extra_file_are_named(copy: Path):
    (copy / "manage.py").unlink()
    (copy / "tests" / "test_more.py").write_text("def test_x():\n    pass\n")
    found = differences(digest_tree(CONSUMER), digest_tree(copy), "stage 2a")
    assert found == [
        "stage 2a: manage.py is missing",
        "stage 2a: tests/test_more.py is not in examples/consumer",
    ]


def test_caches_and_the_default_data_dir_are_not_the_consumers_files(copy: Path):
    expected = digest_tree(copy)
    (copy / "consumer" / "__pycache__").mkdir()
    (copy / "consumer" / "__pycache__" / "settings.cpython-311.pyc").write_bytes(b"\0")
    (copy / ".pytest_cache").mkdir()
    (copy / ".pytest_cache" / "README.md").write_text("cache")
    (copy / "var").mkdir()
    (copy / "var" / "db.sqlite3").write_bytes(b"SQLite")
    assert differences(expected, digest_tree(copy), "copy") == []


def test_ignored_top_level_names_stay_out(copy: Path):
    expected = digest_tree(copy)
    (copy / ".gitmodules").write_text('[submodule "vendor/trellis"]\n')
    (copy / "vendor" / "trellis").mkdir(parents=True)
    (copy / "vendor" / "trellis" / "README.md").write_text("the monorepo")
    ignore = (".git", ".gitmodules", "vendor")
    assert differences(expected, digest_tree(copy, ignore=ignore), "copy") == []
    assert len(differences(expected, digest_tree(copy), "copy")) == 2


def test_the_consumer_is_a_plain_django_project_composed_at_the_end():
    settings = (CONSUMER / "consumer" / "settings.py").read_text()
    assert settings.rstrip().splitlines()[-1].startswith("compose(globals())")
    assert "from trellis.core.django import compose" in settings
    assert '"transaction_mode": "IMMEDIATE"' in settings
    assert "journal_mode=WAL" in settings
    assert 'os.environ.get("TRELLIS_DATA_DIR")' in settings
    suite = (CONSUMER / "tests" / "test_consumer.py").read_text()
    assert 'provider = os.environ.get("TRELLIS_BLOBS_PROVIDER", "filesystem")' in suite
    assert "discover = True" in suite
