"""``python -m bench.areas._forms_baseline.seed``: the domain, device user, its API key and the
form definition of the benchmark; prints ``{"auth": "ApiKey <user>:<key>"}``."""

from __future__ import annotations

import hashlib
import json
import os
import secrets

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.areas._forms_baseline.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from bench.areas import _forms_payload as p  # noqa: E402
from bench.areas._forms_baseline.models import (  # noqa: E402
    ApiKey,
    Domain,
    FormDefinition,
    Membership,
)

user = get_user_model().objects.create_user(p.USERNAME)
domain = Domain.objects.create(name=p.DOMAIN)
Membership.objects.create(domain=domain, user=user)
key = secrets.token_urlsafe(32)
ApiKey.objects.create(user=user, digest=hashlib.sha256(key.encode()).hexdigest())
FormDefinition.objects.create(
    domain=domain, name=p.FORM, version=1, schema=p.SCHEMA, case_rules=[p.CASE_RULE]
)
print(json.dumps({"auth": f"ApiKey {p.USERNAME}:{key}"}))
