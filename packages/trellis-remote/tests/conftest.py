from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from trellis.remote.testing import ServiceProcess, new_secret


@pytest.fixture(scope="session")
def blobs_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """services/blobs under gunicorn (2 workers) on a loopback port, for the whole session."""
    data = Path(tmp_path_factory.mktemp("blobs-service"))
    with ServiceProcess("blobs_service", data_dir=data, secret=new_secret()) as service:
        yield service


TINY = Path(__file__).resolve().parent / "tiny"
"""The tiny ``greet`` contract, its ``local`` provider and a service that serves it."""


@pytest.fixture(scope="session")
def tiny_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The tiny ``greet`` service under gunicorn (1 worker: its nonce cache is per process)."""
    data = Path(tmp_path_factory.mktemp("tiny-service"))
    env = {"PYTHONPATH": os.pathsep.join([str(TINY), os.environ.get("PYTHONPATH", "")])}
    with ServiceProcess(
        "tiny_service", data_dir=data, secret=new_secret(), env=env, workers=1
    ) as service:
        yield service


@pytest.fixture(scope="session")
def tiny_modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """``(tiny_contract, its hookspecs, hookspecs of version 2)``, importable in this process."""
    if str(TINY) not in sys.path:
        sys.path.insert(0, str(TINY))
    return (
        importlib.import_module("tiny_contract"),
        importlib.import_module("tiny_contract.hookspecs"),
        importlib.import_module("tiny_contract.hookspecs_v2"),
    )
