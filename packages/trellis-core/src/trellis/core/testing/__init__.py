"""Test helpers for Trellis plugins: isolated hosts, contract suites, throwaway distributions.

The fixtures (``trellis_host``, ``trellis_register``) come from the pytest plugin that
trellis-core registers under ``pytest11``; this module needs pytest (the ``testing`` extra).
"""

from __future__ import annotations

from ._dists import (
    CommandError,
    build_wheel,
    clean_environ,
    make_overlay_venv,
    pip_install,
    pip_uninstall,
    run_trellis,
    venv_python,
    venv_site_packages,
    write_plugin_project,
)
from ._processes import stop_process, tied_to_this_process
from ._services import in_ci, postgres_database, require_service, throwaway_database
from ._suite import ContractSuite, isolated_host

__all__ = [
    "CommandError",
    "ContractSuite",
    "build_wheel",
    "clean_environ",
    "in_ci",
    "isolated_host",
    "make_overlay_venv",
    "pip_install",
    "pip_uninstall",
    "postgres_database",
    "require_service",
    "run_trellis",
    "stop_process",
    "throwaway_database",
    "tied_to_this_process",
    "venv_python",
    "venv_site_packages",
    "write_plugin_project",
]
