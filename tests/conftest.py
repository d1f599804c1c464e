"""Test-wide settings.

Hypothesis: no per-example deadline (a loaded 2-core CI machine, first-call JIT compilation and
solver start-up make wall-clock deadlines flaky, and timing is not what these tests check), and on
CI (``CI`` set) derandomized examples so a run is reproducible.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("engine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("engine"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "engine")
