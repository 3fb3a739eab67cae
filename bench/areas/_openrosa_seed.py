"""``python -m bench.areas._openrosa_seed`` with hq's settings: the benchmark's domain, device
user (a member, with a password set the way that records its Digest credential), API key and
the XLSForm (``trellis.openrosa.xlsform_add``: the XForm and the trellis-forms form of the same
name). Checks that the JSON data of area ``openrosa`` is what the package makes of its XML.
Prints ``{"auth": ..., "username": ..., "password": ...}``."""

from __future__ import annotations

import json

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from bench.areas import _openrosa_payload as p  # noqa: E402
from trellis import forms, openrosa  # noqa: E402


def _check_same_data() -> None:
    """The XML, read as the receiver reads it, is the JSON variant's data."""
    from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

    from trellis.openrosa._xlsform import Field, instance_to_data  # the receiver's converter

    xform = openrosa.xform_get(domain=p.DOMAIN, form_id=p.FORM)
    root = fromstring(p.xml("uuid:check-1", p.VILLAGES[3], 5))
    read = instance_to_data(root, Field.from_dict(xform.fields))
    expected = p.data("uuid:check-1", p.VILLAGES[3], 5)
    if read != expected:
        raise SystemExit(f"the XML reads as\n{read}\nnot as the JSON data\n{expected}")


def main() -> None:
    user = get_user_model().objects.create_user(p.USERNAME)
    user.set_password(p.PASSWORD)  # + save: the Digest recorder (a password validator) runs
    user.save()
    forms.domain_create(name=p.DOMAIN)
    forms.member_add(domain=p.DOMAIN, user=user)
    key = forms.api_key_create(user=user, name="bench")
    openrosa.xlsform_add(domain=p.DOMAIN, content=p.XLSFORM.encode(), filename="household.md")
    _check_same_data()
    print(json.dumps({"auth": key.authorization, "username": p.USERNAME, "password": p.PASSWORD}))


main()
