"""Form definitions: schema against the metaschema, case rules against the schema, paths named."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from trellis import forms
from trellis.forms.models import FormDefinition

from .conftest import RULES, SCHEMA

pytestmark = pytest.mark.django_db


def define(schema: Any = SCHEMA, rules: Any = RULES, version: int = 2) -> FormDefinition:
    return forms.form_define(
        domain="demo", name="household_visit", version=version, schema=schema, case_rules=rules
    )


def errors_of(schema: Any = SCHEMA, rules: Any = RULES) -> list[tuple[str, str]]:
    with pytest.raises(forms.InvalidDefinition) as caught:
        define(schema, rules)
    assert caught.value.status == 422
    return [(e.field, e.rule) for e in caught.value.errors]


def test_a_valid_definition_is_stored_and_redefining_it_identically_is_a_no_op(demo) -> None:
    first = define()
    assert define().pk == first.pk
    with pytest.raises(forms.DefinitionExists, match="define version 3"):
        define(rules=[])


def test_the_schema_is_checked_against_the_metaschema(demo) -> None:
    bad = {"type": "object", "properties": {"age": {"type": "integer", "minimum": "zero"}}}
    assert errors_of(bad, []) == [("/schema/properties/age/minimum", "type")]
    assert errors_of({"type": "nonsense"}, [])[0][0] == "/schema/type"
    assert set(errors_of([], [])) == {("/schema", "type")}
    assert errors_of(True, []) == [("/schema", "type")]  # valid JSON Schema, but not an object


def test_only_local_refs_that_resolve_are_allowed(demo) -> None:
    remote = {"type": "object", "properties": {"a": {"$ref": "https://example.org/s.json"}}}
    assert errors_of(remote, []) == [("/schema/properties/a/$ref", "$ref")]
    dangling = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
    assert errors_of(dangling, []) == [("/schema/properties/a/$ref", "$ref")]
    good = {
        "type": "object",
        "$defs": {"id": {"type": "string"}},
        "properties": {"hh": {"$ref": "#/$defs/id"}},
    }
    rules = [{"case_type": "household", "case_id": "/hh", "action": "create"}]
    assert define(good, rules).case_rules == rules


def test_case_rules_are_checked_against_their_format(demo) -> None:
    found = errors_of(
        SCHEMA,
        [
            {"case_type": "House Hold", "case_id": "household_id", "action": "merge"},
            {"case_type": "household", "action": "create", "extra": 1},
        ],
    )
    assert found == [
        ("/case_rules/0/action", "enum"),
        ("/case_rules/0/case_id", "pattern"),
        ("/case_rules/0/case_type", "pattern"),
        ("/case_rules/1", "additionalProperties"),
        ("/case_rules/1", "required"),
    ]


def test_case_rule_pointers_must_name_properties_of_the_schema(demo) -> None:
    rules = [
        {
            "case_type": "household",
            "case_id": "/household",
            "action": "upsert",
            "properties": {"village": "/village", "head": "/head/name"},
            "close_when": "/gone",
        }
    ]
    assert errors_of(SCHEMA, rules) == [
        ("/case_rules/0/case_id", "pointer"),
        ("/case_rules/0/close_when", "pointer"),
        ("/case_rules/0/properties/head", "pointer"),
    ]
    nested = {
        "type": "object",
        "properties": {
            "hh": {"type": "object", "properties": {"id": {"type": "string"}}},
            "members": {"type": "array", "items": {"type": "object", "properties": {"n": {}}}},
        },
    }
    ok = [
        {
            "case_type": "household",
            "case_id": "/hh/id",
            "action": "create",
            "properties": {"first": "/members/0/n"},
        }
    ]
    assert define(nested, ok).version == 2


def test_definitions_need_valid_names_versions_and_a_domain(demo) -> None:
    with pytest.raises(forms.InvalidIdentifier):
        forms.form_define(domain="demo", name="Bad-Name", version=1, schema=SCHEMA)
    with pytest.raises(forms.InvalidDefinition) as caught:
        forms.form_define(domain="demo", name="ok", version=0, schema=SCHEMA)
    assert caught.value.errors[0].field == "/version"
    with pytest.raises(forms.DomainNotFound):
        forms.form_define(domain="nowhere", name="ok", version=1, schema=SCHEMA)


def test_the_admin_validates_definitions_on_save(demo, django_user_model) -> None:
    admin = django_user_model.objects.create_superuser("root", "r@example.org", None)
    client = Client()
    client.force_login(admin)
    url = "/admin/trellis_forms/formdefinition/add/"
    domain = demo_domain_pk()
    refused = client.post(
        url,
        {
            "domain": domain,
            "name": "visit",
            "version": 1,
            "title": "",
            "schema": '{"type": "object", "properties": {"a": {"minimum": "x"}}}',
            "case_rules": '[{"case_type": "t", "case_id": "/b", "action": "create"}]',
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert refused.status_code == 200  # the form again, with the errors
    page = refused.content.decode()
    assert "/schema/properties/a/minimum" in page
    assert not FormDefinition.objects.filter(name="visit").exists()
    accepted = client.post(
        url,
        {
            "domain": domain,
            "name": "visit",
            "version": 1,
            "title": "Visit",
            "schema": '{"type": "object", "properties": {"b": {"type": "string"}}}',
            "case_rules": '[{"case_type": "t", "case_id": "/b", "action": "create"}]',
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert accepted.status_code == 302, accepted.content.decode()[:2000]
    assert FormDefinition.objects.filter(name="visit").exists()


def demo_domain_pk() -> int:
    from trellis.forms.models import Domain

    return Domain.objects.get(name="demo").pk


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date", "2026-11-30", "not-a-date"),
        ("date", "2026-02-28", "2026-02-30"),
        ("date-time", "2026-11-30T08:15:00Z", "2026-11-30 08:15"),
        ("date-time", "2026-11-30T08:15:00.5+03:00", "2026-13-30T08:15:00Z"),
        ("email", "ada@example.org", "ada at example.org"),
        ("uuid", "0b7a3c1e-4f7e-4a5d-9c2b-8f6e1d2c3b4a", "0b7a3c1e"),
    ],
)
def test_submitted_data_is_checked_against_the_schema_formats(fmt, good, bad) -> None:
    from trellis.forms._definitions import validate_data

    schema = {"type": "object", "properties": {"when": {"type": "string", "format": fmt}}}
    assert validate_data(schema, {"when": good}) == []
    [error] = validate_data(schema, {"when": bad})
    assert (error.field, error.rule) == ("/data/when", "format")
