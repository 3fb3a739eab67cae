"""Exceptions raised by the plugin host. Each message names the value seen and what to do."""

from __future__ import annotations


class TrellisError(Exception):
    """Base class of every error raised by trellis-core."""


class ConfigurationError(TrellisError):
    """A Trellis setting (environment variable or Django setting) has an unusable value."""


class ContractError(TrellisError):
    """A contract declaration or range is malformed, or versions do not match."""


class PluginLoadError(TrellisError):
    """A plugin could not be loaded; raised only where quarantine is not wanted (strict mode)."""


class UnknownCheck(TrellisError):
    """``/health?only=<name>`` names no health check."""


class ProviderError(TrellisError):
    """A provider hook could not be routed to exactly one selected provider."""


class ProviderNotSelected(ProviderError):
    """No provider is selected for a contract that has no default."""


class UnknownProvider(ProviderError):
    """The selected provider is not active: not installed, quarantined or disabled."""


class ProviderFailed(TrellisError):
    """A provider's backing service answered with an error or broke mid-answer.

    Subsystems raise it (or a subclass) around a provider failure that is not one of their
    own typed errors, so the HTTP edge answers ``502 provider_failed`` instead of a bare 500.

    :param provider: the provider name, for messages and logs (never a secret).
    """

    status = 502
    code = "provider_failed"
    retry_after: int | None = None

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderUnavailable(ProviderFailed):
    """A provider's backing service could not be reached or timed out; retrying may work.

    The HTTP edge answers ``503 provider_unavailable`` with ``Retry-After``.
    """

    status = 503
    code = "provider_unavailable"
    retry_after = 30
