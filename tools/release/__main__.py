"""``python -m tools.release``: see :mod:`tools.release._cli`."""

from __future__ import annotations

import sys

from ._cli import main

sys.exit(main())
