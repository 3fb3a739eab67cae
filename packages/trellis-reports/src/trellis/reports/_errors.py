"""Errors of trellis-reports: each names what was wrong, the value seen and what to do."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trellis.core import TrellisError


class ReportsError(TrellisError):
    """Base class of every error raised by trellis.reports."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a report definition: where (``group_by[1].truncate``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DefinitionError(ReportsError, ValueError):
    """A report definition that does not validate; ``problems`` lists every fault found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class UnknownReport(ReportsError, LookupError):
    """No report has this domain and slug."""

    def __init__(self, domain: str, slug: str) -> None:
        self.domain = domain
        self.slug = slug
        super().__init__(
            f"no report {slug!r} in domain {domain!r}: define it with "
            "trellis.reports.report_define(...) or in the admin"
        )


class UnknownSource(ReportsError, LookupError):
    """A topic no plugin's ``reports_sources`` hook gives a Source for."""

    def __init__(self, topic: str, known: Iterable[str]) -> None:
        self.topic = topic
        self.known = sorted(known)
        super().__init__(
            f"no report source for topic {topic!r}: a plugin must return a "
            f"trellis.reports.Source for it from reports_sources(); topics with a source: "
            f"{', '.join(self.known) or 'none'}"
        )


class InvalidQuery(ReportsError, ValueError):
    """A report query parameter that cannot be used; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)
