"""Version 2 of the tiny ``greet`` contract: the same hooks under a new major version, as a
client built against a newer release of the contract would have them."""

from __future__ import annotations

from trellis.core import Contract

from .hookspecs import (  # noqa: F401 - the hooks of this module
    Receipt,
    greet_boom,
    greet_echo,
    greet_hello,
    greet_numbers,
    greet_upload,
)

CONTRACT = Contract("greet", "2.0.0", default_provider="local", description="Greetings")
