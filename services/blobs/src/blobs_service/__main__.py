"""``python -m blobs_service <command>`` is ``manage.py`` for the blobs service."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a Django management command with the blobs service's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blobs_service.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
