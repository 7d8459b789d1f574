"""``python -m wftrio``: the command line."""

from __future__ import annotations

import sys

from wftrio.cli import main

sys.exit(main())
