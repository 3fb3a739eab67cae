"""``manage.py trellis_demo_admin``: a demo superuser for the embedded profile."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Create (or reset) a demo superuser with a fresh random password and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin", help="user name (default: admin)")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        if getattr(settings, "TRELLIS_PROFILE", "embedded") != "embedded":
            raise CommandError(
                "trellis_demo_admin only runs in the embedded profile; create real accounts "
                "with `createsuperuser` in production"
            )
        password = secrets.token_urlsafe(12)
        user_model = get_user_model()
        lookup: dict[str, Any] = {user_model.USERNAME_FIELD: username}
        user, created = user_model.objects.get_or_create(**lookup)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        verb = "created" if created else "reset"
        self.stdout.write(f"demo admin {verb}: username={username} password={password}")
