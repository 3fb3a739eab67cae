"""``python -m hq <command>`` is ``manage.py`` for the composed service."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a Django management command with hq's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hq.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
