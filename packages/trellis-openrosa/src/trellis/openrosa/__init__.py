"""trellis-openrosa: XLSForm definitions and the OpenRosa API for field clients.

    from trellis import openrosa

    xform = openrosa.xlsform_add(domain="demo", content=data, filename="household.xlsx")
    openrosa.media_add(domain="demo", form_id=xform.form_id, name="logo.png", content=png,
                       content_type="image/png")

An XLSForm becomes, through pyxform, the XForm that ODK Collect and Enketo download from
``GET /a/<domain>/formList``, and the next version of the trellis-forms form of the same
name: submissions to ``POST /a/<domain>/submission`` (OpenRosa multipart XML) land in the
same tables, cases, events and reports as JSON submissions (shared-docs/openrosa.md).
"""

from __future__ import annotations

from ._errors import (
    MalformedSubmission,
    MediaNotExpected,
    OpenRosaError,
    SubmissionConflict,
    TooLarge,
    XFormExists,
    XFormNotFound,
)
from ._version import __version__
from ._xlsform import XLSFormError
from .services import media_add, xform_get, xlsform_add

__all__ = [
    "MalformedSubmission",
    "MediaNotExpected",
    "OpenRosaError",
    "SubmissionConflict",
    "TooLarge",
    "XFormExists",
    "XFormNotFound",
    "XLSFormError",
    "__version__",
    "media_add",
    "xform_get",
    "xlsform_add",
]
