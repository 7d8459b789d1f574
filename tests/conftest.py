"""Shared fixtures and hypothesis profiles.

``ci`` (the default) keeps the suite quick; ``deep`` (select it with
``WFTRIO_HYPOTHESIS=deep``) runs ten times as many examples to hunt bugs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=600, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("WFTRIO_HYPOTHESIS", "ci"))
