"""Fixtures for the policy pack tests: the Pulumi stack name the pack reads at check time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pulumi.runtime
import pytest
from pulumi.runtime import settings as pulumi_settings

from components.contract import PROJECT


@pytest.fixture
def on_stack() -> Iterator[Callable[[str], None]]:
    """Configure the Pulumi runtime as pulumi-policy does from PULUMI_STACK; restore it afterwards."""
    saved = pulumi_settings.SETTINGS

    def configure(stack: str) -> None:
        pulumi.runtime.configure(pulumi.runtime.Settings(project=PROJECT, stack=stack, dry_run=True))

    yield configure
    pulumi.runtime.configure(saved)
