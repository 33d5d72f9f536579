"""Fixtures for the policy pack tests: the Pulumi stack name the pack reads at check time."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pulumi.runtime
import pytest
from pulumi.runtime import settings as pulumi_settings

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
# The pack is imported as `pulumi preview --policy-pack policy` loads it: policy/ on sys.path.
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))


@pytest.fixture
def on_stack() -> Iterator[Callable[[str], None]]:
    """Configure the Pulumi runtime as pulumi-policy does from PULUMI_STACK; restore it afterwards."""
    saved = pulumi_settings.SETTINGS

    def configure(stack: str) -> None:
        pulumi.runtime.configure(
            pulumi.runtime.Settings(project="microservice-model", stack=stack, dry_run=True)
        )

    yield configure
    pulumi.runtime.configure(saved)
