"""``python -m trellis.core`` runs the ``trellis`` command."""

from __future__ import annotations

import sys

from ._cli import main

sys.exit(main())
