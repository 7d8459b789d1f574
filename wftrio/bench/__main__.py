"""``python -m wftrio.bench``: the benchmark table."""

from __future__ import annotations

import sys

from wftrio.bench import main

sys.exit(main())
