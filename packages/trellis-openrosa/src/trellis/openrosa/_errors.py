"""Errors of trellis-openrosa. Each carries the HTTP status and a stable code; the OpenRosa
views answer them as an ``OpenRosaResponse`` with the message."""

from __future__ import annotations


class OpenRosaError(Exception):
    """Base of every error trellis-openrosa raises on purpose.

    :param message: what was wrong, the value seen and what to do.
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedSubmission(OpenRosaError):
    """The request or its XML cannot be read (no ``xml_submission_file``, bad XML...)."""

    status = 400
    code = "malformed"


class XFormNotFound(OpenRosaError):
    """No XForm with that id (or version) in the domain."""

    status = 404
    code = "form_not_found"


class SubmissionConflict(OpenRosaError):
    """Other XML under an instanceID already received, or an edit of a replaced revision."""

    status = 409
    code = "conflict"


class TooLarge(OpenRosaError):
    """The request is over ``X-OpenRosa-Accept-Content-Length``."""

    status = 413
    code = "too_large"


class XFormExists(OpenRosaError):
    """The XForm version exists with other content (versions are immutable)."""

    status = 409
    code = "form_exists"


class MediaNotExpected(OpenRosaError):
    """A media file the form does not reference."""

    status = 422
    code = "media_not_expected"
