#!/usr/bin/env python
"""Django's command-line utility for the composed service (same as ``python -m hq``)."""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from hq.__main__ import main

    main()
