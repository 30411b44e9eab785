"""The system under test: what `provider-assistant eval` scores before the baselines."""

from __future__ import annotations

from evals.runner import SystemFactory


def default_system_factory() -> SystemFactory | None:
    """None until the assistant exists: the dense baseline then stands as the system under test."""
    return None
