"""``python -m bench.areas._forms_hqseed [--report]`` with hq's settings: the benchmark's domain,
device user (a member), API key and form through the trellis-forms facade, and with
``--report`` the report definition of area ``reports``. Prints ``{"auth": ...}``."""

from __future__ import annotations

import json
import sys

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from bench.areas import _forms_payload as p  # noqa: E402
from trellis import forms  # noqa: E402


def main() -> None:
    user = get_user_model().objects.create_user(p.USERNAME)
    forms.domain_create(name=p.DOMAIN)
    forms.member_add(domain=p.DOMAIN, user=user)
    key = forms.api_key_create(user=user, name="bench")
    forms.form_define(
        domain=p.DOMAIN,
        name=p.FORM,
        version=1,
        schema=p.SCHEMA,
        case_rules=[p.CASE_RULE],
        title="Household visit",
    )
    if "--report" in sys.argv:
        from bench.areas import _reports_defs

        _reports_defs.define()
    print(json.dumps({"auth": key.authorization}))


main()
