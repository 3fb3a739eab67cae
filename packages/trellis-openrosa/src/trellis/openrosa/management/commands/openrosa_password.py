"""``manage.py openrosa_password <username>``: set a password that Digest can check."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...auth import record


class Command(BaseCommand):
    help = (
        "Set a user's password and record its Digest credential (ODK Collect signs in with "
        "Digest). Reads the password from TRELLIS_OPENROSA_PASSWORD, else asks twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        model = get_user_model()
        user = model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        password = os.environ.get("TRELLIS_OPENROSA_PASSWORD")
        if password is None:
            password = getpass.getpass(f"Password for {username}: ")
            if password != getpass.getpass("Again: "):
                raise CommandError("the passwords differ")
        if not password:
            raise CommandError("the password is empty")
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        user.set_password(password)
        user.save()
        record(user, password)  # also when the project's validators lack the recorder
        self.stdout.write(f"password of {username!r} set; Digest sign-in works")
