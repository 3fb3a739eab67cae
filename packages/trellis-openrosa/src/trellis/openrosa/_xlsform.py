"""XLSForm definitions: an uploaded XLSForm (``.xlsx``, or Markdown tables as pyxform's tests
write them) to an XForm, its instance tree, a JSON Schema and trellis-forms case rules; and a
submitted XML instance to the JSON data that schema describes.

Pure functions: no Django, no database, no network, no Java (ODK Validate is never run).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DefusedET  # type: ignore[import-untyped]
from pyxform.errors import PyXFormError  # type: ignore[import-untyped]
from pyxform.question_type_dictionary import (  # type: ignore[import-untyped]
    QUESTION_TYPE_DICT,
)
from pyxform.xls2json_backends import (  # type: ignore[import-untyped]
    Definition,
    SupportedFileTypes,
)
from pyxform.xls2xform import convert as pyxform_convert  # type: ignore[import-untyped]

__all__ = [
    "MAX_FILE_SIZE",
    "MAX_UNCOMPRESSED_SIZE",
    "Converted",
    "Field",
    "InstanceError",
    "XLSFormError",
    "convert",
    "instance_to_data",
]

MAX_FILE_SIZE = 10 * 1024 * 1024
"""The largest XLSForm file accepted (bytes)."""
MAX_UNCOMPRESSED_SIZE = 50 * 1024 * 1024
"""The largest total uncompressed size of an ``.xlsx``'s zip members (bytes)."""
SUFFIXES = (".xlsx", ".md")

# The identifier rules of trellis-forms (trellis/forms/_ids.py), checked with re.fullmatch.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}", re.ASCII)
_NAME_RULE = "a lower-case letter, then up to 62 of a-z, 0-9 and '_'"
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}", re.ASCII)
_PROPERTY_RULE = "a letter or '_', then up to 62 of A-Z, a-z, 0-9 and '_'"

_JR_TEMPLATE = "{http://openrosa.org/javarosa}template"
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_MEDIA = re.compile(r"jr://(?:images|big-image|audio|video|file|file-csv)/([^\s\"'<>]+)")
_MEDIA_VALUE = re.compile(r"jr://(?:images|big-image|audio|video|file|file-csv)/(.+)", re.DOTALL)
_FILE_ITEMSET = re.compile(r".+\.(?:csv|xml|geojson)", re.IGNORECASE)

GROUP, REPEAT, ENTITY, NOTE, OTHER = "group", "repeat", "entity", "note", "other"
INTEGER, DECIMAL, RANGE = "integer", "decimal", "range"
SELECT_ONE, SELECT_MULTIPLE, RANK = "select_one", "select_multiple", "rank"
BINARY = "binary"
KINDS = frozenset(
    {
        GROUP,
        REPEAT,
        ENTITY,
        NOTE,
        OTHER,
        INTEGER,
        DECIMAL,
        RANGE,
        SELECT_ONE,
        SELECT_MULTIPLE,
        RANK,
        BINARY,
        "text",
        "date",
        "dateTime",
        "time",
        "geopoint",
        "geotrace",
        "geoshape",
    }
)
"""Every :attr:`Field.kind`."""

# XForm bind types to kinds (barcode values are text; odk:rank is a space-separated list).
_BIND_KINDS = {
    "string": "text",
    "barcode": "text",
    "int": INTEGER,
    "decimal": DECIMAL,
    "date": "date",
    "dateTime": "dateTime",
    "time": "time",
    "geopoint": "geopoint",
    "geotrace": "geotrace",
    "geoshape": "geoshape",
    "binary": BINARY,
    "odk:rank": RANK,
}
# pyxform question types whose kind is not their bind type's.
_TYPE_KINDS = {
    "group": GROUP,
    "repeat": REPEAT,
    "entity": ENTITY,
    "note": NOTE,
    "range": RANGE,
    "select one": SELECT_ONE,
    "select one external": SELECT_ONE,
    "select all that apply": SELECT_MULTIPLE,
    "rank": RANK,
    "trigger": "text",
}
# pyxform types that add no node to the primary instance.
_NO_NODE = frozenset({"xml-external", "csv-external", "attribute", "label"})
_ENTITY_KEYS = ("dataset", "id", "create", "update", "baseVersion", "trunkVersion", "branchId")
_ENVELOPE_STRINGS = ("base64EncryptedKey", "encryptedXmlFile", "base64EncryptedElementSignature")


class XLSFormError(Exception):
    """An XLSForm that cannot be used.

    :param message: one line for users.
    :param errors: each problem, as pyxform words it (whitespace collapsed); ``[message]``
        when not given.
    """

    def __init__(self, message: str, errors: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[str] = list(errors) if errors else [message]


class InstanceError(ValueError):
    """A submitted instance whose value at ``path`` (a JSON pointer) does not parse."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Field:
    """One node of a form's instance: a group, a repeat or a question (see :data:`KINDS`)."""

    name: str
    kind: str
    children: tuple[Field, ...] = ()

    def child(self, name: str) -> Field | None:
        """The child named ``name``, if declared."""
        for node in self.children:
            if node.name == name:
                return node
        return None

    def as_dict(self) -> dict[str, Any]:
        """JSON: ``{"name", "kind"}`` plus ``"children"`` for groups and repeats."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.children or self.kind in (GROUP, REPEAT):
            out["children"] = [c.as_dict() for c in self.children]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Field:
        """The inverse of :meth:`as_dict`.

        :raises ValueError: ``data`` is not such a tree.
        """
        if not isinstance(data, Mapping):
            raise ValueError("a field must be an object")
        name, kind = data.get("name"), data.get("kind")
        if not isinstance(name, str) or not isinstance(kind, str):
            raise ValueError("a field needs a string 'name' and 'kind'")
        children = data.get("children", [])
        if not isinstance(children, list):
            raise ValueError(f"the children of field {name!r} must be a list")
        return cls(name, kind, tuple(cls.from_dict(c) for c in children))


@dataclass(frozen=True)
class Converted:
    """What :func:`convert` makes of an XLSForm."""

    form_id: str
    version: str
    title: str
    root: str
    xml: str
    fields: Field
    schema: dict[str, Any]
    case_rules: list[dict[str, Any]]
    binary_fields: tuple[str, ...]
    media: tuple[str, ...]
    encrypted: bool
    warnings: tuple[str, ...] = field(default=())
    """pyxform's warnings (the form converted; the user may want to know)."""


def _clean(text: str) -> str:
    return " ".join(text.split())


def _pointer(parts: Sequence[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


# ---------------------------------------------------------------------------------------------
# XLSForm → XForm


def _check_xlsx(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise XLSFormError(
            "the file is not an .xlsx spreadsheet (not a zip archive); save it as an Excel "
            "workbook (.xlsx)"
        ) from exc
    total = sum(member.file_size for member in members)
    if total > MAX_UNCOMPRESSED_SIZE:
        raise XLSFormError(
            f"the .xlsx spreadsheet unpacks to {total} bytes, over the limit of "
            f"{MAX_UNCOMPRESSED_SIZE} bytes"
        )
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise XLSFormError(
            "the file is a zip archive but not an .xlsx spreadsheet; save it as an Excel "
            "workbook (.xlsx)"
        )


def _stem(filename: str) -> tuple[str, str]:
    """The file name's stem and lower-case suffix (any directory part dropped)."""
    base = re.split(r"[/\\]", filename)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        return base, ""
    return stem, "." + suffix.lower()


def _run_pyxform(content: bytes, stem: str, suffix: str) -> Any:
    definition = Definition(
        data=io.BytesIO(content),
        file_type=SupportedFileTypes(suffix),
        file_path_stem=stem or None,
    )
    try:
        return pyxform_convert(xlsform=definition, file_type=suffix, validate=False)
    except PyXFormError as exc:
        if str(exc).startswith("Argument 'definition' was not recognized"):
            what = "an Excel workbook" if suffix == ".xlsx" else "Markdown tables"
            raise XLSFormError(
                f"the file could not be read as {what}: is it an XLSForm saved as {suffix}?"
            ) from exc
        errors = [_clean(line) for line in str(exc).splitlines() if line.strip()]
        errors = errors or ["pyxform could not convert the XLSForm"]
        raise XLSFormError(_summary(errors), errors) from exc
    except Exception as exc:  # openpyxl and pyxform fail on odd input in many ways
        message = f"the XLSForm could not be read: {_clean(str(exc)) or type(exc).__name__}"
        raise XLSFormError(message[:500]) from exc


def _summary(errors: list[str]) -> str:
    if len(errors) == 1:
        return errors[0]
    return f"the XLSForm has {len(errors)} problems; the first: {errors[0]}"


def convert(content: bytes, *, filename: str) -> Converted:
    """Convert an XLSForm (``filename`` ends in ``.xlsx``, or ``.md`` for Markdown tables).

    The form id is the settings sheet's ``form_id``, else the file name's stem; it must be a
    trellis-forms name (``[a-z][a-z0-9_]{0,62}``).

    :raises XLSFormError: the file is too large, not a spreadsheet, not a valid XLSForm (with
        pyxform's words), its form id or an entity list name or ``save_to`` property is not a
        valid identifier, or it declares entities where case rules cannot reach them.
    """
    stem, suffix = _stem(filename)
    if suffix not in SUFFIXES:
        raise XLSFormError(
            f"the file {filename!r:.100} is not an XLSForm: its name must end in "
            f"{' or '.join(SUFFIXES)}"
        )
    if len(content) > MAX_FILE_SIZE:
        raise XLSFormError(
            f"the file is {len(content)} bytes, over the limit of {MAX_FILE_SIZE} bytes"
        )
    if suffix == ".xlsx":
        _check_xlsx(content)
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise XLSFormError("the Markdown XLSForm is not UTF-8 text") from exc
        content = text.encode("utf-8")
    result = _run_pyxform(content, stem, suffix)
    survey: dict[str, Any] = result._pyxform
    xml: str = result.xform

    root_name, attributes = _instance_root(xml)
    form_id = attributes.get("id", "")
    if not _NAME.fullmatch(form_id):
        raise XLSFormError(
            f"the form id {form_id!r:.80} is not a valid form name: use {_NAME_RULE}. Set "
            "'form_id' in the settings sheet (it defaults to the file name)"
        )
    version = attributes.get("version", "")
    _check_version(version)
    encrypted = bool(str(survey.get("public_key") or "").strip())

    fields, schema, binary = _walk_survey(survey, root_name)
    case_rules = _case_rules(survey)
    if case_rules and encrypted:
        raise XLSFormError(
            "an encrypted form (settings 'public_key') cannot create or update entities: "
            "the server cannot read its submissions; remove the entities sheet or the key"
        )
    if encrypted:
        schema = _envelope_schema()
        binary = ["/encryptedXmlFile", "/media/*"]
    title = survey.get("title")
    return Converted(
        form_id=form_id,
        version=version,
        title=str(title) if title is not None else form_id,
        root=root_name,
        xml=xml,
        fields=fields,
        schema=schema,
        case_rules=case_rules,
        binary_fields=tuple(binary),
        media=_media(xml),
        encrypted=encrypted,
        warnings=tuple(_clean(str(w)) for w in result.warnings),
    )


MAX_VERSION = 100
"""The longest XForm version (its column's size)."""


def _check_version(version: str) -> None:
    """The version is a segment of the download URLs (``forms/<id>/<version>/form.xml``,
    where ``-`` stands for no version): refuse what cannot be one."""
    bad = (
        len(version) > MAX_VERSION
        or version in ("-", ".", "..")
        or any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in version)
    )
    if bad:
        raise XLSFormError(
            f"the version {version!r:.120} cannot be used: it is part of the download URL, "
            f"so it must be at most {MAX_VERSION} characters without '/', '\\' or control "
            "characters, and not '-', '.' or '..'. Set 'version' in the settings sheet"
        )


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _instance_root(xml: str) -> tuple[str, dict[str, str]]:
    """The primary instance's root element name and attributes (local names)."""
    document = DefusedET.fromstring(xml)
    for node in document.iter():
        if _local(node.tag) == "model":
            for instance in node:
                if _local(instance.tag) == "instance":
                    for root in instance:
                        if isinstance(root.tag, str):
                            attributes = {_local(k): v for k, v in root.attrib.items()}
                            return _local(root.tag), attributes
                    break
    raise XLSFormError("pyxform wrote an XForm without a primary instance")


def _media(xml: str) -> tuple[str, ...]:
    """The media file names the XForm references: a whole value ``jr://images/<name>`` (the
    name may have spaces), or such references inside longer text.

    :raises XLSFormError: a name with a directory part (clients keep media in one folder,
        and no download URL can be made for it).
    """
    found: set[str] = set()
    for node in DefusedET.fromstring(xml).iter():
        for value in (node.text or "", *node.attrib.values()):
            whole = _MEDIA_VALUE.fullmatch(value.strip())
            if whole is not None:
                found.add(whole[1])
            else:
                found.update(_MEDIA.findall(value))
    for name in sorted(found):
        if any(c in '/\\"' for c in name) or name in (".", "..") or not name.isprintable():
            raise XLSFormError(
                f"the media file name {name!r:.120} cannot be used: clients keep a form's "
                "media files in one folder; use a plain file name (no '/', '\\' or '\"')"
            )
    return tuple(sorted(found))


def _kind(element: Mapping[str, Any]) -> str:
    kind_type = str(element.get("type", ""))
    if kind_type in _TYPE_KINDS:
        return _TYPE_KINDS[kind_type]
    bind = element.get("bind")
    bind_type = bind.get("type") if isinstance(bind, Mapping) else None
    if bind_type is None:
        bind_type = QUESTION_TYPE_DICT.get(kind_type, {}).get("bind", {}).get("type")
    if bind_type is None and element.get("children"):
        return GROUP
    return _BIND_KINDS.get(str(bind_type), OTHER if bind_type is not None else "text")


def _static_choices(element: Mapping[str, Any]) -> list[str] | None:
    """The choice names a select's value must be one of, or None when not fixed in the form
    (choices from a file, a repeat or an external sheet, a choice filter, a search())."""
    choices = element.get("choices")
    if not isinstance(choices, list) or not choices or element.get("choice_filter"):
        return None
    if _FILE_ITEMSET.fullmatch(str(element.get("itemset", ""))):
        return None
    control = element.get("control")
    appearance = control.get("appearance", "") if isinstance(control, Mapping) else ""
    if "search(" in str(appearance):
        return None
    names: list[str] = []
    for choice in choices:
        name = str(choice.get("name", "")) if isinstance(choice, Mapping) else ""
        if name and name not in names:
            names.append(name)
    return names or None


def _leaf_schema(element: Mapping[str, Any], kind: str) -> dict[str, Any]:
    if kind == INTEGER:
        return {"type": "integer"}
    if kind in (DECIMAL, RANGE):
        return {"type": "number"}
    if kind == "date":
        return {"type": "string", "format": "date"}
    if kind == "dateTime":
        return {"type": "string", "format": "date-time"}
    if kind in (SELECT_ONE, SELECT_MULTIPLE, RANK):
        item: dict[str, Any] = {"type": "string"}
        names = _static_choices(element)
        if names is not None:
            item["enum"] = names
        return item if kind == SELECT_ONE else {"type": "array", "items": item}
    if kind == ENTITY:
        keys = (*_ENTITY_KEYS, "label")
        return {"type": "object", "properties": {k: {"type": "string"} for k in keys}}
    if kind == OTHER:
        return {}
    return {"type": "string"}


def _walk_survey(survey: Mapping[str, Any], root: str) -> tuple[Field, dict[str, Any], list[str]]:
    binary: list[str] = []

    def walk(element: Mapping[str, Any], path: list[str]) -> tuple[Field, dict[str, Any] | None]:
        kind = _kind(element)
        name = str(element.get("name", ""))
        if kind in (GROUP, REPEAT):
            children: list[Field] = []
            properties: dict[str, Any] = {}
            inner = [*path, "*"] if kind == REPEAT else path
            for child in element.get("children") or []:
                if not isinstance(child, Mapping) or child.get("type") in _NO_NODE:
                    continue
                child_name = str(child.get("name", ""))
                node, schema = walk(child, [*inner, child_name])
                children.append(node)
                if schema is not None:
                    properties[node.name] = schema
            obj = {"type": "object", "properties": properties}
            return Field(name, kind, tuple(children)), (
                {"type": "array", "items": obj} if kind == REPEAT else obj
            )
        if kind == BINARY:
            binary.append(_pointer(path))
        return Field(name, kind), None if kind == NOTE else _leaf_schema(element, kind)

    top = {"type": "group", "name": root, "children": survey.get("children") or []}
    fields, schema = walk(top, [])
    assert schema is not None
    return fields, {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}, binary


def _envelope_schema() -> dict[str, Any]:
    string = {"type": "string"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "meta": {"type": "object", "properties": {"instanceID": string}},
            "base64EncryptedKey": string,
            "encryptedXmlFile": string,
            "media": {"type": "array", "items": string},
            "base64EncryptedElementSignature": string,
        },
    }


# ---------------------------------------------------------------------------------------------
# Entities → case rules


def _containers(
    element: Mapping[str, Any], path: list[str], in_repeat: bool
) -> Iterator[tuple[list[str], Mapping[str, Any], bool]]:
    """Every group/repeat (and the survey) with its data path and whether it is in a repeat."""
    yield path, element, in_repeat
    for child in element.get("children") or []:
        if isinstance(child, Mapping) and _kind(child) in (GROUP, REPEAT):
            repeat = in_repeat or child.get("type") == "repeat"
            yield from _containers(child, [*path, str(child.get("name", ""))], repeat)


def _entity_of(container: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for child in container.get("children") or []:
        if isinstance(child, Mapping) and child.get("name") == "meta":
            for node in child.get("children") or []:
                if isinstance(node, Mapping) and node.get("type") == "entity":
                    return node
    return None


def _case_rules(survey: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One rule per entity declaration (pyxform puts each in a ``meta/entity`` block of the
    survey or of a group); each ``save_to`` question goes to the entity of its nearest
    enclosing container that has one."""
    rules: list[dict[str, Any]] = []
    by_container: dict[tuple[str, ...], dict[str, Any]] = {}
    saves: list[tuple[list[str], str, str]] = []  # (question path, save_to, data pointer)
    for path, container, in_repeat in _containers(survey, [], False):
        entity = _entity_of(container)
        for child in container.get("children") or []:
            bind = child.get("bind") if isinstance(child, Mapping) else None
            if isinstance(bind, Mapping) and bind.get("entities:saveto"):
                name = str(child.get("name", ""))
                saves.append((path, str(bind["entities:saveto"]), _pointer([*path, name])))
        if entity is None:
            continue
        attributes = {
            str(c.get("name")): c
            for c in entity.get("children") or []
            if isinstance(c, Mapping) and c.get("type") == "attribute"
        }
        dataset = str(attributes.get("dataset", {}).get("value", ""))
        if in_repeat:
            raise XLSFormError(
                f"the entity list {dataset!r} is saved from inside a repeat "
                f"({_pointer(path)}); only entities outside repeats are supported"
            )
        if not _NAME.fullmatch(dataset):
            raise XLSFormError(
                f"the entity list_name {dataset!r:.80} is not a valid case type: use {_NAME_RULE}"
            )
        base = _pointer([*path, "meta", "entity"])
        creates, updates = "create" in attributes, "update" in attributes
        rule: dict[str, Any] = {
            "case_type": dataset,
            "case_id": f"{base}/id",
            "action": "upsert" if creates and updates else "update" if updates else "create",
            # The entity's label (the entities sheet's label column): what clients show in
            # the entity list; a submission without one leaves the case's label as it is.
            "properties": {"label": f"{base}/label"},
        }
        conditional = {k for k in ("create", "update") if attributes.get(k, {}).get("bind")}
        if rule["action"] == "create" and conditional:
            rule["when"] = f"{base}/create"
        elif rule["action"] == "update" and conditional:
            rule["when"] = f"{base}/update"
        by_container[tuple(path)] = rule
        rules.append(rule)
    for path, name, pointer in saves:
        if not _PROPERTY.fullmatch(name):
            raise XLSFormError(
                f"the save_to name {name!r:.80} (question {pointer}) is not a valid case "
                f"property name: use {_PROPERTY_RULE}"
            )
        for depth in range(len(path), -1, -1):
            owner = by_container.get(tuple(path[:depth]))
            if owner is not None:
                owner["properties"][name] = pointer
                break
        else:
            raise XLSFormError(
                f"the question {pointer} saves {name!r} to an entity declared inside a repeat; "
                "only entities outside repeats are supported"
            )
    return rules


# ---------------------------------------------------------------------------------------------
# XML instance → JSON data


def instance_to_data(root: Element, fields: Field, *, encrypted: bool = False) -> dict[str, Any]:
    """The JSON data of a submitted instance (``root``, parsed with defusedxml).

    Elements are matched by local name (namespaces ignored). Groups become objects, repeats
    lists of objects, ``meta`` an object of strings, ``meta/entity`` an object of its
    attributes and ``label``. Integers become ints; decimals and ranges ints or floats;
    select_multiple and rank lists of strings; every other value the string sent. Empty
    elements and notes are left out; elements the form does not declare are kept (strings,
    objects, lists when repeated).

    :param encrypted: ``root`` is an encrypted submission's envelope.
    :raises InstanceError: a value does not parse for its question's kind.
    """
    if encrypted:
        return _envelope(root)
    return _group(root, fields, [])


def _children(element: Element) -> Iterator[tuple[str, Element]]:
    for child in element:
        if isinstance(child.tag, str) and _JR_TEMPLATE not in child.attrib:
            yield _local(child.tag), child


def _group(element: Element, declared: Field, path: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    listed: set[str] = set()  # undeclared names sent more than once: lists
    for name, child in _children(element):
        spec = declared.child(name)
        where = [*path, name]
        if spec is None or spec.kind == OTHER:
            value = _undeclared(child)
            if value is None:
                continue
            if name in listed:
                out[name].append(value)
            elif name in out:
                out[name] = [out[name], value]
                listed.add(name)
            else:
                out[name] = value
            continue
        if spec.kind == REPEAT:
            items = out.setdefault(name, [])
            items.append(_group(child, spec, [*where, str(len(items))]))
            continue
        if name in out:
            raise InstanceError(_pointer(where), "sent more than once")
        if spec.kind == GROUP:
            out[name] = _group(child, spec, where)
        elif spec.kind == ENTITY:
            out[name] = _entity(child)
        elif spec.kind != NOTE:
            value = _leaf(child, spec.kind, where)
            if value is not None:
                out[name] = value
    return out


def _undeclared(element: Element) -> Any:
    if any(True for _ in _children(element)):
        return _group(element, Field("", GROUP), [])
    return element.text if element.text else None


def _entity(element: Element) -> dict[str, Any]:
    out = {k: v for k, v in ((_local(k), v) for k, v in element.attrib.items()) if v}
    for name, child in _children(element):
        if name == "label" and child.text:
            out["label"] = child.text
    return out


def _leaf(element: Element, kind: str, path: list[str]) -> Any:
    if any(True for _ in _children(element)):
        raise InstanceError(_pointer(path), "has elements where a value was expected")
    text = element.text
    if not text:
        return None
    if kind == INTEGER:
        value = text.strip()
        if not value:
            return None
        if not _INTEGER.fullmatch(value):
            raise InstanceError(_pointer(path), f"{_shown(text)} is not an integer")
        try:
            return int(value)
        except ValueError as exc:  # more digits than Python converts
            raise InstanceError(_pointer(path), "the integer is too long") from exc
    if kind in (DECIMAL, RANGE):
        value = text.strip()
        if not value:
            return None
        if _INTEGER.fullmatch(value) and len(value) <= 30:
            return int(value)
        number = float(value) if _DECIMAL.fullmatch(value) else math.nan
        if not math.isfinite(number):
            raise InstanceError(_pointer(path), f"{_shown(text)} is not a finite decimal number")
        return number
    if kind in (SELECT_MULTIPLE, RANK):
        return text.split() or None
    return text


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def _envelope(root: Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    media: list[str] = []
    for name, child in _children(root):
        if name == "meta":
            meta = _undeclared(child)
            out["meta"] = meta if isinstance(meta, dict) else {}
        elif name == "media":
            media += [f.text for n, f in _children(child) if n == "file" and f.text]
        elif name in _ENVELOPE_STRINGS:
            if child.text:
                out[name] = child.text
        else:
            value = _undeclared(child)
            if value is not None:
                out[name] = value
    if media:
        out["media"] = media
    return out
