"""``manage.py openrosa_xlsform <domain> <file> [--media FILE ...]``: add an XLSForm."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trellis import forms

from ..._entities import entity_lists
from ..._errors import OpenRosaError
from ..._xlsform import XLSFormError
from ...services import media_add, xlsform_add


class Command(BaseCommand):
    help = (
        "Add an XLSForm (.xlsx, or pyxform's markdown tables in a .md file) to a domain: "
        "field clients then see it in /a/<domain>/formList. --media adds the files the form "
        "references (images, CSV files for choices)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain")
        parser.add_argument("file", type=Path)
        parser.add_argument("--media", type=Path, nargs="*", default=[], help="media files")
        parser.add_argument("--title", default="", help="the form's title (default: the file's)")

    def handle(
        self, *args: Any, domain: str, file: Path, media: list[Path], title: str, **options: Any
    ) -> None:
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            xform = xlsform_add(domain=domain, content=content, filename=file.name, title=title)
            for path in media:
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                media_add(
                    domain=domain,
                    form_id=xform.form_id,
                    version=xform.version,
                    name=path.name,
                    content=path.read_bytes(),
                    content_type=kind,
                )
        except XLSFormError as exc:
            details = "".join(f"\n  - {e}" for e in exc.errors if e != exc.message)
            raise CommandError(f"{file.name}: {exc.message}{details}") from None
        except (OpenRosaError, forms.FormsError) as exc:
            raise CommandError(exc.message) from None
        except OSError as exc:
            raise CommandError(f"cannot read a media file: {exc}") from None
        uploaded = set(xform.media.values_list("name", flat=True))
        missing = sorted(set(xform.media_names) - uploaded - set(entity_lists(xform)))
        self.stdout.write(
            f"form {xform.form_id!r} version {xform.version!r} is in domain {domain!r} "
            f"(trellis-forms version {xform.definition.version}); "
            f"formList: /a/{domain}/formList"
        )
        if missing:
            self.stdout.write(f"media files it references and lacks: {', '.join(missing)}")
