"""Stack setting auditRetentionDays: validated once, passed to the service as AUDIT_RETENTION_DAYS on both
targets (the container's env, the pods' ConfigMap) and to the migration with them."""

from __future__ import annotations

import pytest

from components.settings import SettingsError, parse_settings
from tests.support.pulumi_mocks import ProgramRun, run_program
from tests.support.resource_types import API_CONTAINER, CONFIG_MAP, CONTAINER


def test_the_default_retention_is_90_days_on_both_targets(
    test_stack: ProgramRun, prod_stack: ProgramRun
) -> None:
    assert "AUDIT_RETENTION_DAYS=90" in test_stack.one(CONTAINER).input("envs")
    assert prod_stack.one(CONFIG_MAP).input("data")["AUDIT_RETENTION_DAYS"] == "90"


def test_a_stack_value_reaches_the_service_on_both_targets() -> None:
    docker = run_program("test", overrides={"auditRetentionDays": "400"})
    assert "AUDIT_RETENTION_DAYS=400" in docker.named(API_CONTAINER).input("envs")
    kubernetes = run_program("prod", overrides={"auditRetentionDays": "7"})
    assert kubernetes.one(CONFIG_MAP).input("data")["AUDIT_RETENTION_DAYS"] == "7"


@pytest.mark.parametrize("value", ["0", "3651", "a year", "-5"])
def test_a_retention_the_service_would_refuse_fails_before_any_resource(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", {"auditRetentionDays": value}, set())
    assert raised.value.problems == [
        f"auditRetentionDays = {value!r} is not allowed: expected a whole number from 1 to 3650"
    ]
