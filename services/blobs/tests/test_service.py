"""services/blobs as an operator runs it: its profile rules and its own checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

STRONG = "k" * 20 + "Q7-x" * 10
SECRET = "f" * 64


def manage(data: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRELLIS_", "DJANGO_", "DATABASE_URL"))
    }
    env.update(TRELLIS_DATA_DIR=str(data), **extra)
    return subprocess.run(
        [sys.executable, "-m", "blobs_service", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_serve_without_a_secret(tmp_path: Path) -> None:
    done = manage(
        tmp_path,
        "check",
        TRELLIS_PROFILE="production",
        DJANGO_SECRET_KEY=STRONG,
        DJANGO_ALLOWED_HOSTS="blobs.internal",
    )
    assert done.returncode != 0
    assert "TRELLIS_REMOTE_SECRET is not set" in done.stderr


def test_a_weak_secret_is_refused_without_being_shown(tmp_path: Path) -> None:
    done = manage(tmp_path, "check", TRELLIS_REMOTE_SECRET="hunter2-hunter2")
    assert done.returncode != 0
    assert "TRELLIS_REMOTE_SECRET: secret #1 must be at least 32" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_production_with_a_secret_passes_check_deploy(tmp_path: Path) -> None:
    done = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        TRELLIS_PROFILE="production",
        DJANGO_SECRET_KEY=STRONG,
        DJANGO_ALLOWED_HOSTS="blobs.internal",
        TRELLIS_REMOTE_SECRET=SECRET,
    )
    assert done.returncode == 0, done.stderr


def test_serving_blobs_through_remote_itself_is_an_error(tmp_path: Path) -> None:
    done = manage(
        tmp_path,
        "check",
        TRELLIS_REMOTE_SECRET=SECRET,
        TRELLIS_BLOBS_PROVIDER="remote",
        TRELLIS_REMOTE_BLOBS_URL="http://127.0.0.1:9/remote/",
        TRELLIS_REMOTE_BLOBS_SECRET=SECRET,
    )
    assert done.returncode != 0
    assert "trellis_remote.E002" in done.stderr and "would call itself" in done.stderr


def test_the_service_is_composed_from_core_blobs_and_remote_only(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trellis.core", "plugins", "--json"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "blobs_service.settings",
            "TRELLIS_DATA_DIR": str(tmp_path),
            "TRELLIS_REMOTE_SECRET": SECRET,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    active = {p["distribution"] for p in json.loads(done.stdout) if p["status"] == "active"}
    assert {"trellis-core", "trellis-blobs", "trellis-remote"} <= active
    # What it is built from is what it requires: the Trellis packages it depends on are
    # exactly these three (whatever else this test environment has installed).
    requires = {Requirement(r).name for r in metadata.requires("trellis-blobs-service") or []}
    trellis = {name for name in requires if name.startswith("trellis-")}
    assert trellis == {"trellis-core", "trellis-blobs", "trellis-remote"}


def test_reaping_in_the_service_is_refused_but_stale_temp_files_go(tmp_path: Path) -> None:
    """The service's own metadata table is empty: trellis-blobs' reaper here would delete
    every blob. Its blobs_reap refuses, and removes only what dead uploads left."""
    assert manage(tmp_path, "migrate", "--no-input", TRELLIS_REMOTE_SECRET=SECRET).returncode == 0
    blob = tmp_path / "blobs" / "ab" / "cd" / "kept"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"content a caller still wants")
    stale = blob.parent / "~tmp-dead-upload"
    stale.write_bytes(b"half an upload")
    os.utime(stale, (0, 0))
    done = manage(tmp_path, "blobs_reap", TRELLIS_REMOTE_SECRET=SECRET)
    assert done.returncode != 0
    assert "Reaping here would delete every blob" in done.stderr
    assert blob.exists() and stale.exists()
    done = manage(tmp_path, "blobs_reap", "--stale-temp-files", TRELLIS_REMOTE_SECRET=SECRET)
    assert done.returncode == 0, done.stderr
    assert "removed 1 stale temporary file(s)" in done.stdout
    assert blob.exists() and not stale.exists()
