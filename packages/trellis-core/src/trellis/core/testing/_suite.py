"""Machinery for contract suites that any provider of a contract can be run against."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest

from .. import _global
from .._config import Config
from .._global import set_host
from .._host import Host, create_host


def isolated_host(
    *plugins: Any,
    providers: Mapping[str, str] | None = None,
    discover: bool = False,
    builtins: bool = True,
    monitor: bool = True,
) -> Host:
    """A host that ignores the environment: built-ins, ``plugins`` and (optionally) entry points.

    :param providers: contract → provider name selections.
    :param discover: also load installed plugins of entry-point group ``trellis``.
    """
    config = Config(monitor=monitor, providers=dict(providers or {}))
    return create_host(config, builtins=builtins, discover=discover, plugins=plugins)


class ContractSuite:
    """Base class of a subsystem's contract suite.

    A subsystem ships a subclass whose ``test_*`` methods exercise its contract through the
    ``contract_host`` fixture (by calling ``contract_host.call(...)``). A provider author runs
    it by subclassing once more in a ``Test*`` class::

        class TestMyStore(BlobsContract):
            provider = "mystore"
            plugins = [my_plugin_module]     # in-process; or discover = True when installed

    A quarantined plugin fails the suite with its reason instead of testing the wrong thing.
    """

    contract: ClassVar[str]
    provider: ClassVar[str]
    plugins: ClassVar[Sequence[Any]] = ()
    discover: ClassVar[bool] = False

    def make_host(self) -> Host:
        """Build the host the suite runs against; override to add settings or plugins."""
        return isolated_host(
            *self.plugins, providers={self.contract: self.provider}, discover=self.discover
        )

    @pytest.fixture
    def contract_host(self) -> Iterator[Host]:
        """A host with the provider under test selected for :attr:`contract`.

        It is also the process-wide host (:func:`trellis.core.get_host`) while the test runs,
        so facades and providers built on other providers use it too.
        """
        host = self.make_host()
        broken = [f"{r.name}: {r.reason}" for r in host.plugins() if r.status == "quarantined"]
        if broken:
            pytest.fail("quarantined plugin(s): " + "; ".join(broken), pytrace=False)
        available = host.providers(self.contract)
        if self.provider not in available:
            pytest.fail(
                f"provider {self.provider!r} of contract {self.contract!r} is not loaded; "
                f"loaded: {', '.join(sorted(available)) or 'none'}",
                pytrace=False,
            )
        previous = _global._host  # not get_host(): that would build one just to restore it
        set_host(host)
        try:
            yield host
        finally:
            set_host(previous)
