"""The baseline receiver: ``POST /a/<domain>/receiver/`` doing what trellis-forms' does.

Per request: API key check (sha256 of the key looked up by its unique digest,
``hmac.compare_digest`` of the user name), domain and membership look-ups, the latest form
definition, JSON Schema validation with a validator compiled once per definition and kept,
then one transaction: idempotency check by client id (identical resend 200, different body
409), case upsert (``SELECT ... FOR UPDATE``) + case-change row, submission row and one outbox
row per event trellis-forms publishes (``form.submitted`` and one ``case.changed``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
import zlib
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .models import (
    ApiKey,
    Case,
    CaseChange,
    Domain,
    FormDefinition,
    Membership,
    OutboxEvent,
    Submission,
)

RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", re.ASCII)
PARTITIONS = 4
_validators: dict[int, Any] = {}
_FORMATS = jsonschema.FormatChecker(
    formats=["date", "date-time", "email", "ipv4", "ipv6", "regex", "uuid"]
)


def _error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


def _authenticate(request: HttpRequest) -> Any:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    username, sep, key = credentials.partition(":")
    if scheme != "ApiKey" or not sep:
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()
    found = ApiKey.objects.select_related("user").filter(digest=digest, revoked=False).first()
    if found is None or not found.user.is_active:
        return None
    if not hmac.compare_digest(found.user.username.encode(), username.encode()):
        return None
    return found.user


def _validator(definition: FormDefinition) -> Any:
    validator = _validators.get(definition.pk)
    if validator is None:
        # Draft 2020-12 checking the same formats as trellis-forms (stdlib-checkable ones).
        validator = jsonschema.Draft202012Validator(definition.schema, format_checker=_FORMATS)
        _validators[definition.pk] = validator
    return validator


def _pointer(path: Any) -> str:
    return "/data" + "".join(f"/{part}" for part in path)


def _dig(data: Any, pointer: str) -> Any:
    for part in pointer[1:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _publish(topic: str, key: str, payload: dict[str, Any]) -> None:
    OutboxEvent.objects.create(
        topic=topic,
        key=key,
        partition=zlib.crc32(key.encode()) % PARTITIONS,
        payload=json.dumps(payload, separators=(",", ":"), sort_keys=True),
    )


def _plan_case(domain: Domain, rule: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Lock (or find missing) the rule's case and work out the change; nothing written yet."""
    case_id = _dig(data, rule["case_id"])
    properties = {name: _dig(data, path) for name, path in rule["properties"].items()}
    properties = {k: v for k, v in properties.items() if v is not None}
    case = Case.objects.select_for_update().filter(domain=domain, case_id=case_id).first()
    if case is None:
        changed = sorted(properties)
        action = "create"
    else:
        changed = sorted(k for k, v in properties.items() if case.properties.get(k) != v)
        action = "update"
    return {
        "rule": rule,
        "case_id": case_id,
        "case": case,
        "properties": properties,
        "changed": changed,
        "action": action,
    }


def _write_case(domain: Domain, plan: dict[str, Any], submission: Any, now: Any) -> None:
    case, case_id = plan["case"], plan["case_id"]
    if case is None:
        case = Case.objects.create(
            domain=domain,
            case_id=case_id,
            case_type=plan["rule"]["case_type"],
            properties=plan["properties"],
            opened_at=now,
            modified_at=now,
        )
    else:
        case.properties = {**case.properties, **plan["properties"]}
        case.modified_at = now
        case.save(update_fields=["properties", "modified_at"])
    change_id = uuid.uuid4().hex
    CaseChange.objects.create(
        change_id=change_id,
        case=case,
        submission=submission,
        action=plan["action"],
        changed=plan["changed"],
        properties=case.properties,
        changed_at=now,
    )
    _publish(
        "case.changed",
        f"{domain.name}:{case_id}",
        {
            "domain": domain.name,
            "case_id": case_id,
            "case_type": case.case_type,
            "action": plan["action"],
            "change_id": change_id,
            "submission_id": submission.submission_id,
            "changed_at": now.isoformat().replace("+00:00", "Z"),
            "properties": case.properties,
            "changed": plan["changed"],
            "closed": case.closed,
        },
    )


def _answer(submission: Submission, status: int) -> JsonResponse:
    return JsonResponse(
        {
            "id": submission.submission_id,
            "form": submission.form_name,
            "form_version": submission.form_version,
            "received_at": submission.received_at.isoformat().replace("+00:00", "Z"),
            "cases": submission.cases,
            "attachments": submission.attachments,
        },
        status=status,
    )


@csrf_exempt
def receiver(request: HttpRequest, domain: str) -> JsonResponse:
    if request.method != "POST":
        return _error(405, "method_not_allowed", "POST a submission")
    user = _authenticate(request)
    if user is None:
        response = _error(401, "unauthorized", "a valid ApiKey is required")
        response["WWW-Authenticate"] = "ApiKey"
        return response
    if request.content_type != "application/json":
        return _error(415, "unsupported_media_type", "send application/json")
    try:
        body = json.loads(request.body)
    except ValueError:
        return _error(400, "malformed", "the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return _error(400, "malformed", "expected an object with form, id and data")
    submission_id, form_name = body.get("id"), body.get("form")
    if not isinstance(submission_id, str) or not RECORD_ID.fullmatch(submission_id):
        return _error(422, "invalid_identifier", "bad submission id", field="id")
    space = Domain.objects.filter(name=domain).first()
    if space is None:
        return _error(404, "domain_not_found", "no such domain")
    if not user.is_staff and not Membership.objects.filter(domain=space, user=user).exists():
        return _error(403, "not_a_member", "not a member of this domain")
    forms = FormDefinition.objects.filter(domain=space, name=form_name)
    if body.get("version") is not None:
        forms = forms.filter(version=body["version"])
    definition = forms.order_by("-version").first()
    if definition is None:
        return _error(404, "form_not_found", "no such form")
    data = body["data"]
    errors = [
        {"field": _pointer(e.absolute_path), "rule": str(e.validator), "message": e.message}
        for e in _validator(definition).iter_errors(data)
    ]
    if errors:
        return _error(422, "invalid", "the data breaks the form's schema", errors=errors)
    canonical = json.dumps(
        {"form": form_name, "version": body.get("version"), "id": submission_id, "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    try:
        with transaction.atomic():
            existing = Submission.objects.filter(domain=space, submission_id=submission_id).first()
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    return _error(409, "conflict", "this id was used with another body")
                return _answer(existing, 200)
            now = timezone.now()
            plans = [_plan_case(space, rule, data) for rule in definition.case_rules]
            cases = [
                {
                    "case_id": p["case_id"],
                    "case_type": p["rule"]["case_type"],
                    "action": p["action"],
                }
                for p in plans
            ]
            submission = Submission.objects.create(
                domain=space,
                submission_id=submission_id,
                form=definition,
                form_name=form_name,
                form_version=definition.version,
                received_at=now,
                user=user,
                username=user.username,
                data=data,
                cases=cases,
                fingerprint=fingerprint,
            )
            for plan in plans:
                _write_case(space, plan, submission, now)
            _publish(
                "form.submitted",
                f"{space.name}:{submission_id}",
                {
                    "domain": space.name,
                    "form": form_name,
                    "form_version": definition.version,
                    "submission_id": submission_id,
                    "received_at": now.isoformat().replace("+00:00", "Z"),
                    "user": user.username,
                    "data": data,
                    "attachments": [],
                    "cases": cases,
                },
            )
    except IntegrityError:  # a concurrent identical post won: answer as its resend
        existing = Submission.objects.get(domain=space, submission_id=submission_id)
        if existing.fingerprint != fingerprint:
            return _error(409, "conflict", "this id was used with another body")
        return _answer(existing, 200)
    return _answer(submission, 201)
