"""Writes: XForms from XLSForms, their media files."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max

from trellis import blobs, forms
from trellis.forms.selectors import domain_get

from ._errors import MediaNotExpected, XFormExists, XFormNotFound
from ._xlsform import XLSFormError, convert

if TYPE_CHECKING:
    from .models import MediaFile, XForm

XLSFORM_TYPE_CODE = 20
"""``type_code`` in trellis-blobs of uploaded XLSForm files."""
MEDIA_TYPE_CODE = 21
"""``type_code`` of form media files."""
PENDING_TYPE_CODE = 22
"""``type_code`` of the XML and files of a split submission waiting for its last file."""
MAX_MEDIA = 50 * 1024 * 1024


def xlsform_add(*, domain: str, content: bytes, filename: str, title: str = "") -> XForm:
    """Add an XLSForm (``.xlsx``, or pyxform's markdown tables in a ``.md`` file) to
    ``domain``: converted by pyxform to the XForm clients download, and defined as the next
    version of the trellis-forms form named by its ``form_id`` (JSON Schema of its data, case
    rules from its ``entities`` sheet), so OpenRosa and JSON submissions land in the same
    tables and reports.

    Adding the same XLSForm again returns the XForm already there. The XForm ``version``
    (settings sheet) must change whenever the form does.

    :raises XLSFormError: the file cannot be converted (pyxform's messages), or its form id,
        entity list names or ``save_to`` names are no Trellis identifiers.
    :raises XFormExists: that form id and version exist with other content.
    :raises DomainNotFound: no such domain.
    """
    from trellis.forms.models import FormDefinition

    from .models import XForm

    found = domain_get(domain)
    converted = convert(content, filename=filename)
    for rule in converted.case_rules:
        listed = f"{rule['case_type']}.csv"
        if rule["action"] != "create" and listed not in converted.media:
            raise XLSFormError(
                f"the form updates {rule['case_type']!r} entities but does not read their list; "
                f"add a survey row 'csv-external | {rule['case_type']}' (clients download "
                f"{listed} from the manifest: the domain's open {rule['case_type']} cases)"
            )
    md5 = hashlib.md5(converted.xml.encode("utf-8"), usedforsecurity=False).hexdigest()
    existing = XForm.objects.filter(
        domain=found, form_id=converted.form_id, version=converted.version
    ).first()
    if existing is not None:
        if existing.md5 == md5:
            return existing
        raise XFormExists(
            f"form {converted.form_id!r} version {converted.version!r} exists with other "
            "content; set a new 'version' in the XLSForm's settings sheet"
        )
    keys: list[str] = []
    try:
        with transaction.atomic():
            named = FormDefinition.objects.filter(domain=found, name=converted.form_id)
            latest = named.aggregate(top=Max("version"))["top"] or 0
            definition = forms.form_define(
                domain=found.name,
                name=converted.form_id,
                version=latest + 1,
                schema=converted.schema,
                case_rules=converted.case_rules,
                title=title or converted.title[:200],
            )
            keys.append(blobs.new_key())
            blobs.put(
                io.BytesIO(content),
                key=keys[-1],
                domain=found.name,
                parent_id=converted.form_id,
                type_code=XLSFORM_TYPE_CODE,
                name=filename.rsplit("/", 1)[-1][:100] or "form",
                content_type="application/octet-stream",
            )
            return XForm.objects.create(
                domain=found,
                form_id=converted.form_id,
                version=converted.version,
                title=(title or converted.title)[:200],
                definition=definition,
                xml=converted.xml,
                md5=md5,
                fields=converted.fields.as_dict(),
                binary_fields=list(converted.binary_fields),
                media_names=list(converted.media),
                encrypted=converted.encrypted,
                source_name=filename[:200],
                source_key=keys[-1],
            )
    except BaseException:
        if keys:
            blobs.discard(keys)
        raise


def xform_get(domain: str, form_id: str, version: str | None = None) -> XForm:
    """The XForm ``form_id`` of ``domain`` (``version``, or the latest added).

    :raises XFormNotFound: none.
    """
    from .models import XForm

    found = XForm.objects.select_related("domain").filter(domain__name=domain, form_id=form_id)
    xform = (
        found.filter(version=version).first() if version is not None else found.first()
    )  # ordered newest first
    if xform is None:
        versions = sorted(found.values_list("version", flat=True))
        raise XFormNotFound(
            f"form {form_id!r:.80} has no version {version!r:.40} (versions: {versions})"
            if versions
            else f"domain {domain!r} has no form {form_id!r:.80}"
        )
    return xform


def media_add(
    *,
    domain: str,
    form_id: str,
    name: str,
    content: bytes,
    content_type: str = "application/octet-stream",
    version: str | None = None,
) -> MediaFile:
    """Attach media file ``name`` (one the form references: ``jr://images/<name>``...) to the
    XForm; a file of that name there already is replaced. Clients see it in the manifest.

    :raises MediaNotExpected: the form references no such file.
    :raises XFormNotFound: no such form.
    """
    from .models import MediaFile

    xform = xform_get(domain, form_id, version)
    if name not in xform.media_names:
        raise MediaNotExpected(
            f"form {form_id!r} references no media file {name!r:.100}; it references: "
            f"{', '.join(xform.media_names) or 'none'}"
        )
    if len(content) > MAX_MEDIA:
        raise MediaNotExpected(f"media file {name!r} is over {MAX_MEDIA} bytes")
    keys: list[str] = []
    try:
        with transaction.atomic():
            keys.append(blobs.new_key())
            info = blobs.put(
                io.BytesIO(content),
                key=keys[-1],
                domain=xform.domain.name,
                parent_id=f"{xform.form_id}",
                type_code=MEDIA_TYPE_CODE,
                name=name,
                content_type=content_type,
            )
            old = MediaFile.objects.filter(xform=xform, name=name).first()
            if old is not None:
                blobs.delete(old.key)
                old.delete()
            return MediaFile.objects.create(
                xform=xform,
                name=name,
                key=info.key,
                md5=hashlib.md5(content, usedforsecurity=False).hexdigest(),
                content_type=content_type,
                length=len(content),
            )
    except BaseException:
        if keys:
            blobs.discard(keys)
        raise


PENDING_DAYS = 7
"""How long the files of a split submission wait for its last request by default."""


def pending_expire(*, older_than: timedelta = timedelta(days=PENDING_DAYS)) -> int:
    """Remove split submissions whose last request has not come within ``older_than`` of
    their latest one: the waiting row and its XML and files in trellis-blobs. A client that
    sends it later starts again (its last request stores what it sends). Returns how many.
    """
    from django.utils import timezone

    from .models import PendingSubmission

    cutoff = timezone.now() - older_than
    removed = 0
    while True:
        with transaction.atomic():
            batch = list(
                PendingSubmission.objects.select_for_update(skip_locked=True)
                .filter(updated_at__lt=cutoff)
                .order_by("pk")[:100]
            )
            if not batch:
                return removed
            for pending in batch:
                for item in pending.files:
                    blobs.delete(item["key"])
                blobs.delete(pending.xml_key)
                pending.delete()
            removed += len(batch)


__all__ = ["XLSFormError", "media_add", "pending_expire", "xform_get", "xlsform_add"]
