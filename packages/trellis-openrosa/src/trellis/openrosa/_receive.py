"""Receiving an OpenRosa submission: parse the XML safely, then store it through trellis-forms.

The XML itself is kept as the submission's attachment ``xml_submission_file`` (so a resend
is recognised by its sha256), its files as the others. Order of the cases:

1. the instanceID is a submission's current id: byte-identical XML adds the files not there
   yet (201), other XML is a conflict (409);
2. it is an earlier revision's id (replaced by an edit): the same XML is acknowledged,
   other XML conflicts;
3. otherwise the files the data names (its binary questions; an encrypted envelope's
   ``submission.xml.enc`` and media) are looked for in this request and in the files of
   earlier requests of the same instance (split with ``*isIncomplete*``). All there, or the
   client says this is its last request: the submission is stored (with ``deprecatedID``: as
   an edit of that submission). Else the request's files wait (202) in a pending row.

Each step is one transaction with the pending row locked; a concurrent request of the same
instance waits for it or, losing an insert race on a unique constraint, starts over.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import ParseError, fromstring  # type: ignore[import-untyped]
from django.db import IntegrityError, transaction
from django.utils import timezone

from trellis import blobs, forms

from ._errors import MalformedSubmission, SubmissionConflict, XFormNotFound
from ._xlsform import Field, InstanceError, instance_to_data
from .services import PENDING_TYPE_CODE

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from trellis.forms.models import Domain

    from .models import PendingSubmission, XForm

log = logging.getLogger("trellis.openrosa")

XML_NAME = "xml_submission_file"
"""The multipart part holding the XML, and the attachment name it is stored under."""
ATTEMPTS = 3
MAX_DEPTH = 64
"""Deepest element nesting read (the data may nest 32 levels; converting deeper XML would
exhaust Python's stack)."""
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", re.ASCII)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Parsed:
    """What the receiver reads from a submission's XML."""

    xml: bytes
    sha256: str
    root: Element
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str
    encrypted: bool


@dataclass
class Upload:
    """A file part of the request: its name (the part's name), content and type."""

    name: str
    content: IO[bytes]
    content_type: str


@dataclass(frozen=True)
class Outcome:
    """What happened: HTTP status (201 stored, 202 waiting for files) and a message."""

    status: int
    message: str
    submission_id: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if isinstance(child.tag, str) and _local(child.tag) == name:
            return child
    return None


def parse_xml(raw: bytes) -> Parsed:
    """Parse submission XML with defusedxml (no DTDs, entities or external references).

    :raises MalformedSubmission: not well-formed, forbidden constructs, no form id, an
        instanceID that is no submission id, an encrypted submission without instanceID.
    """
    try:
        root = fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise MalformedSubmission(
            f"the submission XML uses a forbidden construct ({type(exc).__name__}: DTDs, "
            "entities and external references are refused)"
        ) from None
    except (ParseError, ValueError) as exc:
        raise MalformedSubmission(f"the submission XML is not well-formed: {exc}") from None
    _check_depth(root)
    form_id = root.get("id") or ""
    if not form_id:
        xmlns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        form_id = xmlns.rstrip("/").rsplit("/", 1)[-1]
    if not form_id or not forms.is_valid("form", form_id):
        raise MalformedSubmission(
            f"the submission's root element names no known form id (id={form_id!r:.80}); "
            "send the XML as the form produced it"
        )
    meta = _child(root, "meta")
    instance = _child(meta, "instanceID") if meta is not None else None
    deprecated = _child(meta, "deprecatedID") if meta is not None else None
    instance_id = (instance.text or "").strip() if instance is not None else ""
    deprecated_id = (deprecated.text or "").strip() if deprecated is not None else ""
    encrypted = (root.get("encrypted") or "").lower() == "yes"
    sha = hashlib.sha256(raw).hexdigest()
    if not instance_id:
        if encrypted:
            raise MalformedSubmission(
                "an encrypted submission must carry meta/instanceID (it cannot be read here)"
            )
        instance_id = f"sha256:{sha}"[:100]  # a resend of the same bytes finds it again
    for label, value in (("instanceID", instance_id), ("deprecatedID", deprecated_id)):
        if value and not _ID.fullmatch(value):
            raise MalformedSubmission(
                f"meta/{label} {value!r:.110} is not an id here: a letter or digit, then up "
                "to 99 of A-Z, a-z, 0-9 and '._:-' (such as uuid:...)"
            )
    if deprecated_id == instance_id:
        raise MalformedSubmission("meta/deprecatedID equals meta/instanceID")
    return Parsed(
        xml=raw,
        sha256=sha,
        root=root,
        form_id=form_id,
        version=root.get("version") or "",
        instance_id=instance_id,
        deprecated_id=deprecated_id,
        encrypted=encrypted,
    )


def _check_depth(root: Element) -> None:
    """Refuse elements nested deeper than :data:`MAX_DEPTH` (walked without recursion)."""
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedSubmission(
                f"the submission XML has elements nested deeper than {MAX_DEPTH} levels"
            )
        stack.extend((child, depth + 1) for child in element)


def _values(data: Any, parts: Sequence[str]) -> Iterator[Any]:
    if not parts:
        yield data
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(data, list):
            for item in data:
                yield from _values(item, rest)
    elif isinstance(data, dict) and head in data:
        yield from _values(data[head], rest)


def expected_files(xform: XForm, data: Any) -> set[str]:
    """The file names the data names in the form's binary questions (for an encrypted
    envelope, ``encryptedXmlFile`` and ``media/file``)."""
    names: set[str] = set()
    for pointer in xform.binary_fields:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        for value in _values(data, parts):
            if isinstance(value, str) and value.strip():
                names.add(value.strip())
    return names


def _xform(domain: Domain, parsed: Parsed) -> XForm:
    from .models import XForm

    found = XForm.objects.filter(domain=domain, form_id=parsed.form_id)
    xform = found.filter(version=parsed.version).select_related("definition").first()
    if xform is None:
        versions = sorted(found.values_list("version", flat=True))
        raise XFormNotFound(
            f"form {parsed.form_id!r} has no version {parsed.version!r:.40} here (versions: "
            f"{', '.join(repr(v) for v in versions)}); download the form again"
            if versions
            else f"domain {domain.name!r} has no form {parsed.form_id!r}"
        )
    if xform.encrypted != parsed.encrypted:
        raise MalformedSubmission(
            f"form {parsed.form_id!r} is {'' if xform.encrypted else 'not '}encrypted; this "
            f"submission is {'' if parsed.encrypted else 'not '}encrypted"
        )
    return xform


def _data(xform: XForm, parsed: Parsed) -> dict[str, Any]:
    try:
        return instance_to_data(
            parsed.root, Field.from_dict(xform.fields), encrypted=parsed.encrypted
        )
    except InstanceError as exc:
        raise MalformedSubmission(f"the submission XML has a bad value at {exc}") from None


def _check_names(uploads: Sequence[Upload]) -> None:
    seen: set[str] = set()
    for upload in uploads:
        if upload.name == XML_NAME or not forms.is_valid("attachment", upload.name):
            raise MalformedSubmission(
                f"file part name {upload.name!r:.110} is not accepted: a letter or digit, then "
                "up to 99 of A-Z, a-z, 0-9 and '._-' (no path characters), and not "
                f"{XML_NAME!r} twice"
            )
        if upload.name in seen:
            raise MalformedSubmission(f"file {upload.name!r} is sent twice in one request")
        seen.add(upload.name)


def receive(
    *,
    domain: Domain,
    xml: bytes,
    uploads: Sequence[Upload],
    incomplete: bool,
    user: AbstractBaseUser,
) -> Outcome:
    """Receive one OpenRosa submission request (see the module docstring).

    :raises OpenRosaError: 400, 404, 409 with a message for the client.
    :raises forms.FormsError: what trellis-forms refuses (422 data, 413 sizes...).
    """
    parsed = parse_xml(xml)
    _check_names(uploads)
    xform = _xform(domain, parsed)
    data = _data(xform, parsed)
    quick = _whole(domain, parsed, xform, data, uploads, incomplete, user)
    if quick is not None:
        return quick
    for upload in uploads:
        upload.content.seek(0)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _receive_once(domain, parsed, xform, data, uploads, incomplete, user)
        except (IntegrityError, forms.SubmissionConflict):
            # A concurrent request of the same instance committed first: look again.
            if attempt == ATTEMPTS:
                raise
            for upload in uploads:
                upload.content.seek(0)
    raise AssertionError("unreachable")  # pragma: no cover


def _whole(
    domain: Domain,
    parsed: Parsed,
    xform: XForm,
    data: dict[str, Any],
    uploads: Sequence[Upload],
    incomplete: bool,
    user: AbstractBaseUser,
) -> Outcome | None:
    """The common case in few statements: a new submission (no edit) that is whole in this
    request and has no files waiting from earlier ones goes straight to ``forms.submit``,
    which also recognises an identical resend. ``None`` when it is anything else (a resend
    with other files, an edit, a split submission): the general path handles it."""
    from .models import PendingSubmission

    if parsed.deprecated_id:
        return None
    missing = sorted(expected_files(xform, data) - {u.name for u in uploads})
    if missing and incomplete:
        return None
    if PendingSubmission.objects.filter(domain=domain, instance_id=parsed.instance_id).exists():
        return None
    attachments = [forms.Attachment(XML_NAME, io.BytesIO(parsed.xml), "text/xml")]
    attachments += [forms.Attachment(u.name, u.content, u.content_type) for u in uploads]
    definition = xform.definition
    try:
        result = forms.submit(
            domain=domain,
            form=definition.name,
            version=definition.version,
            submission_id=parsed.instance_id,
            data=data,
            attachments=attachments,
            user=user,
            definition=definition,
        )
    except forms.SubmissionConflict:
        return None  # received before with other files, or other XML: the general path
    message = "stored" if result.created else "already received"
    if missing:
        message += f"; without {len(missing)} file(s) it names: " + ", ".join(missing[:20])
    return Outcome(201, message, result.id)


def _stored(domain: Domain, instance_id: str) -> tuple[Any, str] | None:
    """The submission whose current revision or an earlier one is ``instance_id``, and the
    sha256 of the XML received under that id."""
    from trellis.forms.models import Submission, SubmissionRevision

    row = Submission.objects.filter(domain=domain, current_id=instance_id).first()
    if row is not None:
        return row, _xml_sha(row.attachments)
    earlier = (
        SubmissionRevision.objects.filter(domain=domain, revision_id=instance_id)
        .select_related("submission")
        .first()
    )
    if earlier is not None:
        return earlier.submission, _xml_sha(earlier.attachments)
    return None


def _xml_sha(attachments: Sequence[dict[str, Any]]) -> str:
    return next((a["sha256"] for a in attachments if a["name"] == XML_NAME), "")


def _receive_once(
    domain: Domain,
    parsed: Parsed,
    xform: XForm,
    data: dict[str, Any],
    uploads: Sequence[Upload],
    incomplete: bool,
    user: AbstractBaseUser,
) -> Outcome:
    from .models import PendingSubmission

    stored = _stored(domain, parsed.instance_id)
    if stored is not None:
        row, sha = stored
        if sha != parsed.sha256:
            raise SubmissionConflict(
                f"instanceID {parsed.instance_id!r} was already received with other XML; an "
                "edit needs a new instanceID and meta/deprecatedID naming the one it replaces"
            )
        if row.current_id != parsed.instance_id:
            return Outcome(
                201, "already received (and since replaced by an edit)", row.submission_id
            )
        result = forms.attach(
            domain=domain,
            submission_id=parsed.instance_id,
            attachments=[forms.Attachment(u.name, u.content, u.content_type) for u in uploads],
        )
        return Outcome(201, _added(len(result.attachments) - len(row.attachments)), result.id)
    keys: list[str] = []
    try:
        with transaction.atomic():
            pending = (
                PendingSubmission.objects.select_for_update()
                .filter(domain=domain, instance_id=parsed.instance_id)
                .first()
            )
            if pending is None and _stored(domain, parsed.instance_id) is not None:
                # A concurrent request stored it (and removed its waiting row) since the
                # look above: start over, as a resend, instead of waiting for files anew.
                raise forms.SubmissionConflict(
                    f"instanceID {parsed.instance_id!r} was stored by a concurrent request"
                )
            if pending is not None and pending.xml_sha256 != parsed.sha256:
                raise SubmissionConflict(
                    f"instanceID {parsed.instance_id!r} is being received (split in several "
                    "requests) with other XML"
                )
            waiting = list(pending.files) if pending is not None else []
            names = {f["name"] for f in waiting}
            fresh = [u for u in uploads if u.name not in names]
            kept = _kept_names(domain, parsed)
            have = names | {u.name for u in uploads} | kept
            expected = expected_files(xform, data)
            missing = sorted(expected - have)
            if missing and incomplete:
                _check_count(parsed, names | {u.name for u in uploads} | expected)
                _wait(domain, parsed, xform, pending, waiting, fresh, user, keys)
                return Outcome(
                    202,
                    f"received {len(have)} file(s); waiting for {len(missing)} more: "
                    + ", ".join(missing[:20]),
                )
            attachments = [forms.Attachment(XML_NAME, io.BytesIO(parsed.xml), "text/xml")]
            attachments += [forms.Attachment(u.name, u.content, u.content_type) for u in uploads]
            held = _held(waiting, {u.name for u in uploads})
            attachments += [forms.Attachment(n, s, t) for n, s, t in held]
            try:
                result = _store(domain, parsed, xform, data, attachments, kept, user)
            finally:
                for _, spool, _ in held:
                    spool.close()
            if pending is not None:
                for item in waiting:
                    blobs.delete(item["key"])
                blobs.delete(pending.xml_key)
                pending.delete()
    except BaseException:
        if keys:
            blobs.discard(keys)
        raise
    message = "stored" if result.created else "already received"
    if missing:
        message += f"; without {len(missing)} file(s) it names: " + ", ".join(missing[:20])
    return Outcome(201, message, result.id)


def _check_count(parsed: Parsed, names: set[str]) -> None:
    """Refuse a split submission that will carry more files (its XML included) than
    trellis-forms accepts per submission, before any of them waits for the others."""
    limit = forms.max_attachments()
    if len(names) + 1 > limit:
        raise forms.TooLarge(
            f"submission {parsed.instance_id!r} names {len(names)} files; with its XML that is "
            f"over the limit of {limit} per submission (TRELLIS_FORMS_MAX_ATTACHMENTS): the "
            "server's operator can raise it",
            field="attachments",
        )


def _added(count: int) -> str:
    return f"already received; {count} new file(s) added" if count else "already received"


def _kept_names(domain: Domain, parsed: Parsed) -> set[str]:
    """For an edit, the names of the files the replaced revision has (they can be kept)."""
    if not parsed.deprecated_id:
        return set()
    from trellis.forms.models import Submission

    row = Submission.objects.filter(domain=domain, current_id=parsed.deprecated_id).first()
    if row is None:
        return set()
    return {a["name"] for a in row.attachments if a["name"] != XML_NAME}


def _held(waiting: Sequence[dict[str, Any]], sent: set[str]) -> list[tuple[str, IO[bytes], str]]:
    """The files earlier requests left waiting, as seekable streams (spooled to disk)."""
    found: list[tuple[str, IO[bytes], str]] = []
    for item in waiting:
        if item["name"] in sent:
            continue
        spool = tempfile.SpooledTemporaryFile(max_size=_CHUNK)  # noqa: SIM115 - closed below
        with blobs.open_blob(item["key"]) as reader:
            while chunk := reader.read(_CHUNK):
                spool.write(chunk)
        spool.seek(0)
        found.append((item["name"], spool, item["content_type"]))
    return found


def _store(
    domain: Domain,
    parsed: Parsed,
    xform: XForm,
    data: dict[str, Any],
    attachments: list[forms.Attachment],
    kept: set[str],
    user: AbstractBaseUser,
) -> forms.SubmissionResult:
    definition = xform.definition
    if parsed.deprecated_id:
        referenced = expected_files(xform, data)
        return forms.revise(
            domain=domain,
            submission_id=parsed.deprecated_id,
            new_id=parsed.instance_id,
            form=definition.name,
            version=definition.version,
            data=data,
            attachments=attachments,
            keep=sorted(kept & referenced),
            user=user,
        )
    return forms.submit(
        domain=domain,
        form=definition.name,
        version=definition.version,
        submission_id=parsed.instance_id,
        data=data,
        attachments=attachments,
        user=user,
    )


def _wait(
    domain: Domain,
    parsed: Parsed,
    xform: XForm,
    pending: PendingSubmission | None,
    waiting: list[dict[str, Any]],
    fresh: Sequence[Upload],
    user: AbstractBaseUser,
    keys: list[str],
) -> None:
    """Keep this request's new files (and, the first time, the XML) until the last arrives."""
    from .models import PendingSubmission

    def put(content: IO[bytes], name: str, content_type: str) -> dict[str, Any]:
        keys.append(blobs.new_key())
        info = blobs.put(
            content,
            key=keys[-1],
            domain=domain.name,
            parent_id=parsed.instance_id,
            type_code=PENDING_TYPE_CODE,
            name=name,
            content_type=content_type,
        )
        return {"name": name, "key": info.key, "content_type": content_type, "sha256": info.sha256}

    added = [put(u.content, u.name, u.content_type) for u in fresh]
    now = timezone.now()
    if pending is None:
        xml = put(io.BytesIO(parsed.xml), XML_NAME, "text/xml")
        PendingSubmission.objects.create(
            domain=domain,
            instance_id=parsed.instance_id,
            xform=xform,
            deprecated_id=parsed.deprecated_id,
            xml_sha256=parsed.sha256,
            xml_key=xml["key"],
            files=added,
            user=cast(Any, user) if user.is_authenticated else None,
            created_at=now,
            updated_at=now,
        )
    elif added:
        pending.files = [*waiting, *added]
        pending.updated_at = now
        pending.save(update_fields=["files", "updated_at"])
