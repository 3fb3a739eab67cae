"""The OpenAPI 3.1 part of trellis-forms (hook ``core_openapi``): receiver, cases, forms.

Kept in step with the views by tests that validate real responses against these schemas.
"""

from __future__ import annotations

from typing import Any

from ._http import MAX_OFFSET
from ._ids import ATTACHMENT, DOMAIN, NAME, RECORD_ID

_REF = "#/components/schemas/"
_NO_NUL = {"pattern": "^[^\\u0000]*$"}
ERROR_CODES = {
    "400": "Malformed request: an empty body, bad JSON, a broken or cut-short multipart body, "
    "a bad query parameter",
    "401": "No or invalid credentials (WWW-Authenticate: ApiKey)",
    "403": "Not a member of the domain, or a session write without its CSRF token",
    "404": "Unknown domain, form, form version or case",
    "405": "Method not allowed (see Allow)",
    "409": "The submission id was used for a different submission",
    "411": "No Content-Length (a chunked body is not read)",
    "413": "Body, attachment or number of attachments over the limit",
    "415": "Neither application/json nor multipart/form-data",
    "422": "Invalid submission: every broken rule in errors",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {
        code: _json(_ref("FormsValidationError" if code == "422" else "FormsError"), text)
        for code, text in ERROR_CODES.items()
        if code in codes
    }


def _domain_param() -> dict[str, Any]:
    return {
        "name": "domain",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{DOMAIN.pattern}$"},
    }


def _schemas() -> dict[str, Any]:
    nullable_string = {"type": ["string", "null"]}
    case_ref = {
        "type": "object",
        "required": ["case_id", "case_type", "action"],
        "properties": {
            "case_id": {"type": "string"},
            "case_type": {"type": "string"},
            "action": {"enum": ["create", "update", "close"]},
        },
    }
    attachment = {
        "type": "object",
        "required": ["name", "key", "content_type", "length", "sha256"],
        "properties": {
            "name": {"type": "string"},
            "key": {"type": "string"},
            "content_type": {"type": "string"},
            "length": {"type": "integer", "minimum": 0},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
    }
    case = {
        "type": "object",
        "required": ["case_id", "case_type", "properties", "closed", "opened_at", "modified_at"],
        "properties": {
            "case_id": {"type": "string"},
            "case_type": {"type": "string"},
            "properties": {"type": "object"},
            "closed": {"type": "boolean"},
            "opened_at": {"type": "string", "format": "date-time"},
            "modified_at": {"type": "string", "format": "date-time"},
        },
    }
    change = {
        "type": "object",
        "required": [
            "domain",
            "case_id",
            "case_type",
            "action",
            "change_id",
            "submission_id",
            "changed_at",
            "properties",
            "changed",
            "closed",
        ],
        "properties": {
            "domain": {"type": "string"},
            "case_id": {"type": "string"},
            "case_type": {"type": "string"},
            "action": {"enum": ["create", "update", "close"]},
            "change_id": {"type": "string"},
            "submission_id": {"type": "string"},
            "changed_at": {"type": "string", "format": "date-time"},
            "properties": {"type": "object"},
            "changed": {"type": "array", "items": {"type": "string"}},
            "closed": {"type": "boolean"},
        },
    }
    definition = {
        "type": "object",
        "required": ["name", "version", "title", "schema", "case_rules", "created_at"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "integer", "minimum": 1},
            "title": {"type": "string"},
            "schema": {"type": "object"},
            "case_rules": {"type": "array", "items": {"type": "object"}},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    error = {
        "type": "object",
        "required": ["code", "message", "field", "request_id"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "field": nullable_string,
            "request_id": {"type": "string"},
        },
    }
    return {
        "FormsSubmission": {
            "type": "object",
            "required": ["form", "id", "data"],
            "additionalProperties": False,
            "properties": {
                "form": {"type": "string", "pattern": f"^{NAME.pattern}$"},
                "version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                "id": {"type": "string", "pattern": f"^{RECORD_ID.pattern}$"},
                "data": {
                    "type": "object",
                    "propertyNames": _NO_NUL,
                    "additionalProperties": _ref("FormsJsonValue"),
                },
            },
        },
        "FormsJsonValue": {
            "description": "JSON without NUL characters (nested at most 32 levels)",
            "anyOf": [
                {"type": ["null", "boolean", "number"]},
                {"type": "string", **_NO_NUL},
                {"type": "array", "items": _ref("FormsJsonValue")},
                {
                    "type": "object",
                    "propertyNames": _NO_NUL,
                    "additionalProperties": _ref("FormsJsonValue"),
                },
            ],
        },
        "FormsSubmissionResult": {
            "type": "object",
            "required": ["id", "form", "form_version", "received_at", "cases", "attachments"],
            "properties": {
                "id": {"type": "string"},
                "form": {"type": "string"},
                "form_version": {"type": "integer"},
                "received_at": {"type": "string", "format": "date-time"},
                "cases": {"type": "array", "items": case_ref},
                "attachments": {"type": "array", "items": attachment},
            },
        },
        "FormsCase": case,
        "FormsCaseChange": change,
        "FormsCaseDetail": {
            "allOf": [
                _ref("FormsCase"),
                {
                    "type": "object",
                    "required": ["history"],
                    "properties": {"history": {"type": "array", "items": _ref("FormsCaseChange")}},
                },
            ]
        },
        "FormsCaseList": {
            "type": "object",
            "required": ["count", "next", "results"],
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "next": nullable_string,
                "results": {"type": "array", "items": _ref("FormsCase")},
            },
        },
        "FormsDefinition": definition,
        "FormsDefinitionList": {
            "type": "object",
            "required": ["count", "next", "results"],
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "next": {"type": "null"},
                "results": {"type": "array", "items": _ref("FormsDefinition")},
            },
        },
        "FormsError": error,
        "FormsValidationError": {
            "allOf": [
                _ref("FormsError"),
                {
                    "type": "object",
                    "required": ["errors"],
                    "properties": {
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["field", "rule", "message"],
                                "properties": {
                                    "field": {"type": "string"},
                                    "rule": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        }
                    },
                },
            ]
        },
    }


def document() -> dict[str, Any]:
    """``{"paths": ..., "components": ...}`` for ``/a/{domain}/...``."""
    security: list[dict[str, list[str]]] = [{"FormsApiKey": []}]
    case_params = [
        _domain_param(),
        {"name": "case_type", "in": "query", "schema": {"type": "string"}},
        {"name": "closed", "in": "query", "schema": {"type": "boolean"}},
        {
            "name": "modified_since",
            "in": "query",
            "schema": {"type": "string", "format": "date-time"},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
        {
            "name": "offset",
            "in": "query",
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        },
    ]
    return {
        "paths": {
            "/a/{domain}/receiver/": {
                "post": {
                    "summary": "Receive a form submission (with attachments when multipart)",
                    "operationId": "forms_receive",
                    "tags": ["forms"],
                    "security": security,
                    "parameters": [_domain_param()],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": _ref("FormsSubmission")},
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["submission"],
                                    "properties": {"submission": _ref("FormsSubmission")},
                                    "propertyNames": {"pattern": f"^{ATTACHMENT.pattern}$"},
                                    "additionalProperties": {
                                        "type": "string",
                                        "format": "binary",
                                        "description": "an attachment, named by its part",
                                    },
                                },
                                "encoding": {"submission": {"contentType": "application/json"}},
                            },
                        },
                    },
                    "responses": {
                        "201": _json(_ref("FormsSubmissionResult"), "Stored"),
                        "200": _json(
                            _ref("FormsSubmissionResult"), "An identical resend: the first answer"
                        ),
                        **_errors(
                            "400", "401", "403", "404", "405", "409", "411", "413", "415", "422"
                        ),
                    },
                }
            },
            "/a/{domain}/api/cases/": {
                "get": {
                    "summary": "List cases (filters: case_type, closed, modified_since, "
                    "property.<name>; paging: limit, offset)",
                    "operationId": "forms_cases",
                    "tags": ["forms"],
                    "security": security,
                    "parameters": case_params,
                    "responses": {
                        "200": _json(_ref("FormsCaseList"), "One page of cases"),
                        **_errors("400", "401", "403", "404", "405"),
                    },
                }
            },
            "/a/{domain}/api/cases/{case_id}/": {
                "get": {
                    "summary": "A case with its history",
                    "operationId": "forms_case",
                    "tags": ["forms"],
                    "security": security,
                    "parameters": [
                        _domain_param(),
                        {
                            "name": "case_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": f"^{RECORD_ID.pattern}$"},
                        },
                    ],
                    "responses": {
                        "200": _json(_ref("FormsCaseDetail"), "The case"),
                        **_errors("401", "403", "404", "405"),
                    },
                }
            },
            "/a/{domain}/api/forms/": {
                "get": {
                    "summary": "Form definitions of the domain (every version)",
                    "operationId": "forms_definitions",
                    "tags": ["forms"],
                    "security": security,
                    "parameters": [_domain_param()],
                    "responses": {
                        "200": _json(_ref("FormsDefinitionList"), "The definitions"),
                        **_errors("401", "403", "404", "405"),
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "FormsApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "ApiKey <username>:<key> (trellis.forms.api_key_create)",
                }
            },
        },
    }
