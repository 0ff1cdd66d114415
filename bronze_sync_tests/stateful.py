"""Run hypothesis state machines with one set of settings, sized from the environment."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine


def run_state_machine(
    machine: type[RuleBasedStateMachine],
    env_prefix: str,
    examples: int,
    steps: int = 20,
    derandomize: bool = False,
) -> None:
    """Run `machine`; `<env_prefix>_EXAMPLES` and `<env_prefix>_STEPS` override its size.

    `derandomize` runs the same examples every time: for a test that also asserts which
    paths its examples took, so that coverage does not depend on the run's luck.
    """
    machine.TestCase.settings = settings(
        derandomize=derandomize,
        max_examples=int(os.environ.get(f"{env_prefix}_EXAMPLES", str(examples))),
        stateful_step_count=int(os.environ.get(f"{env_prefix}_STEPS", str(steps))),
        # Each step syncs real tables: no per-example deadline, and the fixtures are per test.
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    machine.TestCase().runTest()
