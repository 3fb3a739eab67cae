"""A test-side client that talks to a server the way ODK Collect does.

Digest authentication is requests' ``HTTPDigestAuth`` (an implementation nobody here
wrote). A submission is sent as Collect sends one: ``HEAD`` first (credentials, and the
server's ``X-OpenRosa-Accept-Content-Length``), then ``POST``s of the XML with as many files
as fit under that limit, every request but the last marked ``*isIncomplete*``; only 201 and
202 count as success.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import requests
from requests.auth import HTTPDigestAuth

HEADERS = {"X-OpenRosa-Version": "1.0"}
LIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
OVERHEAD = 2048
"""Room kept in each request for multipart headers (Collect keeps some too)."""


class SubmitFailed(Exception):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"{response.status_code}: {response.text[:500]}")
        self.response = response


@dataclass
class Sent:
    """The answers to one submission's requests."""

    responses: list[requests.Response] = field(default_factory=list)

    @property
    def statuses(self) -> list[int]:
        return [r.status_code for r in self.responses]


class Collect:
    def __init__(self, base: str, domain: str, username: str, password: str) -> None:
        self.base = f"{base.rstrip('/')}/a/{domain}"
        self.session = requests.Session()
        self.session.auth = HTTPDigestAuth(username, password)
        self.session.headers.update(HEADERS)

    def form_list(self, form_id: str | None = None) -> list[dict[str, str]]:
        params = {"formID": form_id} if form_id else None
        response = self.session.get(f"{self.base}/formList", params=params, timeout=30)
        response.raise_for_status()
        root = ElementTree.fromstring(response.content)
        return [
            {child.tag.removeprefix(LIST_NS): (child.text or "") for child in xform}
            for xform in root.findall(f"{LIST_NS}xform")
        ]

    def download(self, entry: dict[str, str]) -> tuple[bytes, dict[str, bytes]]:
        """The XForm and its media files (through the manifest), checking every hash."""
        import hashlib

        xform = self.session.get(entry["downloadUrl"], timeout=30)
        xform.raise_for_status()
        assert entry["hash"] == "md5:" + hashlib.md5(xform.content).hexdigest()
        media: dict[str, bytes] = {}
        if entry.get("manifestUrl"):
            manifest = self.session.get(entry["manifestUrl"], timeout=30)
            manifest.raise_for_status()
            for item in ElementTree.fromstring(manifest.content):
                name = item.findtext(f"{MANIFEST_NS}filename") or ""
                url = item.findtext(f"{MANIFEST_NS}downloadUrl") or ""
                got = self.session.get(url, timeout=30)
                got.raise_for_status()
                assert item.findtext(f"{MANIFEST_NS}hash") == (
                    "md5:" + hashlib.md5(got.content).hexdigest()
                )
                media[name] = got.content
        return xform.content, media

    def submit(self, xml: bytes, files: dict[str, bytes] | None = None) -> Sent:
        """Send one submission; raises :class:`SubmitFailed` on an answer not 201/202."""
        files = dict(files or {})
        head = self.session.head(f"{self.base}/submission", timeout=30)
        if head.status_code != 204:
            raise SubmitFailed(head)
        limit = int(head.headers["X-OpenRosa-Accept-Content-Length"])
        batches: list[list[str]] = [[]]
        size = len(xml) + OVERHEAD
        for name in files:
            if batches[-1] and size + len(files[name]) + OVERHEAD > limit:
                batches.append([])
                size = len(xml) + OVERHEAD
            batches[-1].append(name)
            size += len(files[name]) + OVERHEAD
        sent = Sent()
        for index, batch in enumerate(batches):
            parts: list[tuple[str, Any]] = [
                ("xml_submission_file", ("submission.xml", xml, "text/xml"))
            ]
            parts += [(name, (name, files[name], _type(name))) for name in batch]
            if index < len(batches) - 1:
                parts.append(("*isIncomplete*", (None, b"yes")))
            response = self.session.post(f"{self.base}/submission", files=parts, timeout=60)
            sent.responses.append(response)
            if response.status_code not in (201, 202):
                raise SubmitFailed(response)
        return sent


def _type(name: str) -> str:
    if name.endswith((".jpg", ".jpeg")):
        return "image/jpeg"
    if name.endswith(".png"):
        return "image/png"
    return "application/octet-stream"


def instance(
    form_id: str,
    version: str,
    body: str,
    *,
    instance_id: str | None = None,
    deprecated_id: str | None = None,
    orx: bool = False,
) -> bytes:
    """Submission XML as Collect writes it (``orx:`` meta when asked, as older forms have)."""
    instance_id = instance_id or f"uuid:{uuid.uuid4()}"
    prefix = "orx:" if orx else ""
    meta = f"<{prefix}instanceID>{instance_id}</{prefix}instanceID>"
    if deprecated_id:
        meta += f"<{prefix}deprecatedID>{deprecated_id}</{prefix}deprecatedID>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">{body}'
        f"<{prefix}meta>{meta}</{prefix}meta></data>"
    ).encode()
