"""Applying a form's case rules to the cases of its domain, inside the submission's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._definitions import CaseRule
from ._errors import FieldError, ValidationFailed
from ._ids import is_valid
from ._pointers import MISSING, resolve

if TYPE_CHECKING:
    from .models import Case, CaseChange, Domain, Submission

TRUE_WORDS = frozenset({"true", "yes", "1"})


def closes(value: Any) -> bool:
    """Whether a ``close_when`` value closes the case: ``true``, a non-zero number, or the
    string ``true``, ``yes`` or ``1`` (any case). Missing, ``null``, ``false``... do not."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS


@dataclass
class _Pending:
    case: Case
    rule: CaseRule
    action: str
    changed: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    closed: bool = False


def _case_id(rule: CaseRule, data: Any) -> tuple[str | None, FieldError | None]:
    raw = resolve(data, rule.case_id)
    where = f"/data{rule.case_id}"
    label = f"case rule {rule.index} ({rule.action} {rule.case_type})"
    if raw is MISSING:
        return None, FieldError(where, "case_id", f"{label}: the case id {where} is missing")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not is_valid("case_id", raw):
        return None, FieldError(
            where,
            "case_id",
            f"{label}: case id {raw!r} is invalid; use a letter or digit, then up to 99 of "
            "A-Z, a-z, 0-9 and '._:-'",
        )
    return str(raw), None


def _by_id(case: Case) -> str:
    return case.case_id


def apply_rules(
    *,
    domain: Domain,
    submission: Callable[[list[dict[str, str]]], Submission],
    rules: list[CaseRule],
    data: Any,
    now: datetime,
) -> list[CaseChange]:
    """Apply ``rules`` in order (a later rule sees an earlier one's change), lock the cases
    touched and insert the new ones (both sorted, so two submissions never deadlock), and
    write cases and history.

    ``submission(cases)`` stores the submission row once its case list
    (``[{"case_id", "case_type", "action"}]``) is known, before the history rows that refer
    to it: one INSERT, no UPDATE afterwards.

    :raises ValidationFailed: a rule cannot apply (``update``/``close`` of a missing case,
        ``create`` of an existing one, a case of another type, a missing or invalid case id);
        nothing is written then.
    """
    from .models import Case, CaseChange

    errors: list[FieldError] = []
    ids: list[tuple[CaseRule, str]] = []
    for rule in rules:
        if rule.when is not None and not closes(resolve(data, rule.when)):
            continue  # the rule's condition does not hold for this submission
        case_id, error = _case_id(rule, data)
        if error is not None:
            errors.append(error)
        elif case_id is not None:
            ids.append((rule, case_id))
    wanted = sorted({case_id for _, case_id in ids})
    state: dict[str, Case] = {
        case.case_id: case
        for case in Case.objects.select_for_update()
        .filter(domain=domain, case_id__in=wanted)
        .order_by("case_id")
    }
    for loaded in state.values():
        loaded.domain = domain  # the same row: the case.changed payload reads no domain again
    pending: list[_Pending] = []
    for rule, case_id in ids:
        where = f"/data{rule.case_id}"
        label = f"case rule {rule.index} ({rule.action} {rule.case_type})"
        values = {
            name: value
            for name, pointer in rule.properties.items()
            if (value := resolve(data, pointer)) is not MISSING
        }
        closing = rule.action == "close" or (
            rule.close_when is not None and closes(resolve(data, rule.close_when))
        )
        case = state.get(case_id)
        if case is None:
            if rule.action in ("update", "close"):
                errors.append(
                    FieldError(
                        where,
                        "case_not_found",
                        f"{label}: no {rule.case_type} case {case_id!r} exists to {rule.action}; "
                        "create it first (or use action 'upsert')",
                    )
                )
                continue
            case = Case(
                domain=domain,
                case_id=case_id,
                case_type=rule.case_type,
                properties=values,
                closed=closing,
                opened_at=now,
                modified_at=now,
            )
            state[case_id] = case
            pending.append(_Pending(case, rule, "create", sorted(values), dict(values), closing))
            continue
        if rule.action == "create":
            errors.append(
                FieldError(
                    where,
                    "case_exists",
                    f"{label}: {case.case_type} case {case_id!r} already exists; use action "
                    "'update' or 'upsert' to change it",
                )
            )
            continue
        if case.case_type != rule.case_type:
            errors.append(
                FieldError(
                    where,
                    "case_type",
                    f"{label}: case {case_id!r} is a {case.case_type!r} case, not "
                    f"{rule.case_type!r}",
                )
            )
            continue
        changed = sorted(k for k, v in values.items() if case.properties.get(k, MISSING) != v)
        case.properties = {**case.properties, **values}
        action = "close" if closing and not case.closed else "update"
        case.closed = case.closed or closing
        case.modified_at = now
        pending.append(_Pending(case, rule, action, changed, dict(case.properties), case.closed))
    if errors:
        raise ValidationFailed("the submission cannot be applied to its cases", errors)
    # Each case is written once, in case id order: new cases are inserted in the same order
    # by every submission, so two creating the same cases never wait for each other in a
    # cycle (the loser of an insert race retries, see submit).
    for case in sorted({c.case.case_id: c.case for c in pending}.values(), key=_by_id):
        case.save()
    row = submission(
        [
            {"case_id": c.case.case_id, "case_type": c.case.case_type, "action": c.action}
            for c in pending
        ]
    )
    written: list[CaseChange] = []
    for item in pending:
        written.append(
            CaseChange.objects.create(
                change_id=uuid.uuid4().hex,
                case=item.case,
                submission=row,
                action=item.action,
                changed=item.changed,
                properties=item.properties,
                closed=item.closed,
                changed_at=now,
            )
        )
    return written
