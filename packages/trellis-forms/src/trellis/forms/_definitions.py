"""Validation of form definitions (schema and case rules) and of submitted data."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

from ._errors import FieldError, InvalidDefinition
from ._ids import NAME, PROPERTY, is_valid
from ._pointers import MISSING, format_path, parse, resolve, schema_defines

MAX_ERRORS = 100
"""At most this many errors are reported for one submission or definition."""
ACTIONS = ("upsert", "create", "update", "close")
MAX_TITLE = 200
"""The longest form title (its column)."""
MAX_DEPTH = 64
"""The deepest nesting of a schema or the case rules."""
_REGEX = FormatChecker(formats=["regex"])
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
DATA_FORMATS = ("date", "date-time", "email", "ipv4", "ipv6", "regex", "uuid")
"""The JSON Schema ``format`` values submitted data is checked against; others are annotations.

Only formats checked with the standard library, so the answer never depends on which optional
packages happen to be installed."""
_DATA = FormatChecker(formats=[f for f in DATA_FORMATS if f != "date-time"])


def _is_date_time(value: object) -> bool:
    """RFC 3339: a date, ``T``, a time with seconds, and ``Z`` or an offset."""
    if not isinstance(value, str):
        return True  # format applies to strings only
    if not _DATE_TIME.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # a real date and time
    return True


_DATA.checks("date-time", raises=ValueError)(_is_date_time)


"""The metaschema marks ``pattern`` and ``patternProperties`` names ``format: regex``: checking
that format refuses a pattern Python's ``re`` (which validates submissions) cannot compile."""

RULES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["case_type", "case_id", "action"],
        "additionalProperties": False,
        "properties": {
            "case_type": {"type": "string", "pattern": f"^{NAME.pattern}$"},
            "case_id": {"type": "string", "pattern": "^/"},
            "action": {"enum": list(ACTIONS)},
            "properties": {
                "type": "object",
                "propertyNames": {"pattern": f"^{PROPERTY.pattern}$"},
                "additionalProperties": {"type": "string", "pattern": "^/"},
            },
            "close_when": {"type": "string", "pattern": "^/"},
            "when": {"type": "string", "pattern": "^/"},
        },
    },
}
"""The shape of ``case_rules`` (pointers are then checked against the form's schema)."""


@dataclass(frozen=True)
class CaseRule:
    """One parsed case rule (see shared-docs/forms.md, "Case rules")."""

    index: int
    case_type: str
    case_id: str
    action: str
    properties: Mapping[str, str]
    close_when: str | None
    when: str | None = None


def _message(text: str) -> str:
    return text if len(text) <= 300 else text[:297] + "..."


def schema_errors(validator: Draft202012Validator, instance: Any, prefix: str) -> list[FieldError]:
    """Every rule ``instance`` breaks, as field errors under ``prefix``, sorted, capped."""
    found = [
        FieldError(
            prefix + format_path(error.absolute_path), str(error.validator), _message(error.message)
        )
        for error in validator.iter_errors(instance)
    ]
    found.sort(key=lambda e: (e.field, e.rule, e.message))
    return found[:MAX_ERRORS]


def _refs(node: Any, path: list[object]) -> Iterator[tuple[list[object], str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield [*path, key], value
            else:
                yield from _refs(value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, [*path, index])


def _ref_errors(schema: Any) -> list[FieldError]:
    """Only local references that resolve: a submission must never fetch anything."""
    found = []
    for path, ref in _refs(schema, []):
        where = "/schema" + format_path(path)
        if not ref.startswith("#"):
            found.append(
                FieldError(where, "$ref", f"reference {ref!r} is not local; use '#/$defs/...'")
            )
            continue
        try:
            target = resolve(schema, ref[1:]) if ref[1:2] in ("", "/") else MISSING
        except ValueError:
            target = MISSING
        if target is MISSING:
            found.append(
                FieldError(where, "$ref", f"reference {ref!r} resolves to nothing in the schema")
            )
        elif not isinstance(target, Mapping | bool):
            found.append(FieldError(where, "$ref", f"reference {ref!r} does not name a schema"))
    return found


def _unstorable(node: Any, path: list[object]) -> Iterator[FieldError]:
    """Values no database column stores (NUL characters, lone surrogates, NaN and infinities)
    and nesting deeper than :data:`MAX_DEPTH` (validating it would exhaust Python's stack)."""
    if isinstance(node, Mapping | list | tuple) and len(path) >= MAX_DEPTH:
        yield FieldError(format_path(path), "depth", f"nested deeper than {MAX_DEPTH} levels")
    elif isinstance(node, str):
        if "\x00" in node:
            yield FieldError(format_path(path), "value", "contains a NUL character (\\u0000)")
        else:
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                yield FieldError(format_path(path), "value", "contains a lone surrogate")
    elif isinstance(node, float) and not math.isfinite(node):
        yield FieldError(format_path(path), "value", f"{node} is not a JSON number")
    elif isinstance(node, Mapping):
        for key, value in node.items():
            for error in _unstorable(key, path):
                yield FieldError(error.field, error.rule, f"a key {error.message}")
            yield from _unstorable(value, [*path, key])
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _unstorable(value, [*path, index])


def _identifier_errors(case_rules: Any, reported: set[str]) -> list[FieldError]:
    """Case types and property names checked with ``re.fullmatch``: the rules schema's
    ``^...$`` patterns let a trailing newline through."""
    found = []
    for index, rule in enumerate(case_rules if isinstance(case_rules, list) else []):
        if not isinstance(rule, Mapping):
            continue
        base = f"/case_rules/{index}"
        kind = rule.get("case_type")
        if isinstance(kind, str) and not is_valid("case_type", kind):
            found.append(FieldError(f"{base}/case_type", "pattern", f"{kind!r:.80} is invalid"))
        names = rule.get("properties")
        for name in names if isinstance(names, Mapping) else {}:
            if isinstance(name, str) and not is_valid("property", name):
                found.append(
                    FieldError(
                        f"{base}/properties", "pattern", f"property name {name!r:.80} is invalid"
                    )
                )
    return [e for e in found if e.field not in reported]


def validate_definition(*, schema: Any, case_rules: Any, title: Any = "") -> list[CaseRule]:
    """Check a definition: ``schema`` against the Draft 2020-12 metaschema (local ``$ref`` only,
    patterns that compile), ``case_rules`` against their format and their pointers against
    ``schema``; nothing a database cannot store (NUL, lone surrogates, NaN), a title of at most
    200 characters.

    :return: the parsed case rules.
    :raises InvalidDefinition: listing every problem with its path (``/schema/properties/age/
        minimum``, ``/case_rules/0/properties/village``).
    """
    errors = [
        FieldError(where + e.field, e.rule, e.message)
        for where, value in (("/schema", schema), ("/case_rules", case_rules), ("/title", title))
        for e in _unstorable(value, [])
    ]
    if any(e.rule == "depth" for e in errors):  # the checks below would recurse that deep
        raise InvalidDefinition("the form definition is invalid", errors[:MAX_ERRORS])
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=_REGEX)
    errors += schema_errors(meta, schema, "/schema")
    if not isinstance(schema, Mapping):
        errors.append(FieldError("/schema", "type", "the schema must be a JSON object"))
    elif not any(e.field.startswith("/schema") for e in errors):
        errors += _ref_errors(schema)
    rule_errors = schema_errors(Draft202012Validator(RULES_SCHEMA), case_rules, "/case_rules")
    errors += rule_errors
    errors += _identifier_errors(case_rules, {e.field for e in rule_errors})
    if not isinstance(title, str):
        errors.append(FieldError("/title", "type", "the title must be a string"))
    elif len(title) > MAX_TITLE:
        errors.append(
            FieldError("/title", "maxLength", f"the title is over {MAX_TITLE} characters")
        )
    if errors:
        errors.sort(key=lambda e: (e.field, e.rule, e.message))
        raise InvalidDefinition("the form definition is invalid", errors[:MAX_ERRORS])
    rules = [_parse_rule(index, rule) for index, rule in enumerate(case_rules)]
    for rule in rules:
        errors += _pointer_errors(schema, rule)
    if errors:
        raise InvalidDefinition("the case rules name data the schema does not define", errors)
    return rules


def _parse_rule(index: int, rule: Mapping[str, Any]) -> CaseRule:
    return CaseRule(
        index=index,
        case_type=rule["case_type"],
        case_id=rule["case_id"],
        action=rule["action"],
        properties=dict(rule.get("properties", {})),
        close_when=rule.get("close_when"),
        when=rule.get("when"),
    )


def parse_rules(case_rules: Any) -> list[CaseRule]:
    """Stored (already validated) case rules as :class:`CaseRule` objects."""
    return [_parse_rule(index, rule) for index, rule in enumerate(case_rules or [])]


def _pointer_errors(schema: Any, rule: CaseRule) -> list[FieldError]:
    base = f"/case_rules/{rule.index}"
    named = [("/case_id", rule.case_id)]
    named += [(f"/properties/{format_path([n])[1:]}", p) for n, p in rule.properties.items()]
    if rule.close_when is not None:
        named.append(("/close_when", rule.close_when))
    if rule.when is not None:
        named.append(("/when", rule.when))
    found = []
    for where, pointer in named:
        try:
            parse(pointer)
            defined = schema_defines(schema, pointer)
        except ValueError as exc:
            found.append(FieldError(base + where, "pointer", str(exc)))
            continue
        if not defined:
            found.append(
                FieldError(
                    base + where,
                    "pointer",
                    f"{pointer!r} names no property the schema defines; declare it under "
                    "'properties' (data pointers follow the schema's properties and items)",
                )
            )
    return found


def validate_data(schema: Any, data: Any) -> list[FieldError]:
    """The rules ``data`` breaks under ``schema``, as errors under ``/data``."""
    try:
        validator = Draft202012Validator(schema, format_checker=_DATA)
        return schema_errors(validator, data, "/data")
    except Exception as exc:  # a definition stored around form_define (an unresolvable ref)
        return [FieldError("/data", "schema", f"the form's schema cannot be applied: {exc}")]
