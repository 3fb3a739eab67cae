"""Test helpers for Trellis plugins: isolated hosts and the contract-suite base class.

The fixtures (``trellis_host``, ``trellis_register``) come from the pytest plugin that
trellis-core registers under ``pytest11``; this module needs pytest (the ``testing`` extra).
"""

from __future__ import annotations

from ._services import in_ci, require_service
from ._suite import ContractSuite, isolated_host

__all__ = ["ContractSuite", "in_ci", "isolated_host", "require_service"]
