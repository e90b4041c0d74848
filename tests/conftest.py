"""Shared test settings: hypothesis runs deterministically (derandomized) so tests are repeatable."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "chainrule",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("chainrule")
