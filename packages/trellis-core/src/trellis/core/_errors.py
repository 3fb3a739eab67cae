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
    """The selected provider is not installed (or was quarantined)."""
