"""The pack as the Pulumi CLI runs it: a process serving pulumi-policy's Analyzer over gRPC."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pulumi.runtime import proto
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.microservice_policies import POLICIES
from tests.support.policy import (
    PackProcess,
    deployment,
    docker_container,
    k8s_container,
    running_pack,
    secret,
)
from tests.support.resource_types import CONTAINER, DEPLOYMENT, SERVICE
from tests.support.stack_config import REPO_ROOT

EXPECTED_POLICIES = [
    "images-by-digest",
    "run-as-non-root",
    "k8s-resource-limits",
    "k8s-probes",
    "k8s-no-service-account-token",
    "no-plaintext-secret-env",
    "restricted-stack-exposure",
    "migration-before-service",
    "front-owns-the-public-face",
]


@pytest.fixture(scope="module")
def pack_on_test() -> Iterator[PackProcess]:
    with running_pack("test") as pack:
        yield pack


def test_pack_serves_every_policy_as_mandatory(pack_on_test: PackProcess) -> None:
    info = pack_on_test.info()
    assert info.name == "microservice-model-policies"
    assert [p.name for p in info.policies] == EXPECTED_POLICIES == [p.name for p in POLICIES]
    assert {p.enforcementLevel for p in info.policies} == {proto.MANDATORY}
    assert all(p.description for p in info.policies)


def test_good_docker_container_has_no_diagnostics(pack_on_test: PackProcess) -> None:
    assert pack_on_test.analyze(CONTAINER, "app-container", docker_container()) == []


def test_bad_docker_container_reports_policy_and_message(pack_on_test: PackProcess) -> None:
    props = docker_container(image="microservice.model:latest", ports=[{"internal": 8000, "external": 80}])
    found = [(d.policyName, d.message.splitlines()[-1]) for d in pack_on_test.analyze(CONTAINER, "c", props)]
    assert found == [
        (
            "images-by-digest",
            "Docker container 'c' uses 'microservice.model:latest': ':latest' is never allowed: "
            "reference the image by digest (name@sha256:<64 hex>, e.g. the docker.Image repo_digest).",
        ),
        (
            "restricted-stack-exposure",
            "Docker container 'c' publishes host port 80 on stack 'test': only the configured port 8083 is "
            "allowed.",
        ),
    ]


def test_stack_name_comes_from_the_engine_environment() -> None:
    with running_pack("prod") as pack:
        props = {"spec": {"type": "LoadBalancer"}}
        assert pack.analyze(SERVICE, "svc", props) == []


def test_policy_config_sets_the_allowed_port(pack_on_test: PackProcess) -> None:
    pack_on_test.configure({"restricted-stack-exposure": {"allowedHostPort": 9000}})
    try:
        [diagnostic] = pack_on_test.analyze(CONTAINER, "c", docker_container())
        assert diagnostic.message.endswith("only the configured port 9000 is allowed.")
    finally:
        pack_on_test.configure({})


def test_secret_mark_reaches_the_policy_as_plain_text(pack_on_test: PackProcess) -> None:
    """A Pulumi secret in a Kubernetes env `value` still lands in the cluster spec: refused."""
    container = k8s_container(env=[{"name": "SECRET_KEY", "value": secret("0123456789abcdef" * 2)}])
    [diagnostic] = pack_on_test.analyze(DEPLOYMENT, "api", deployment(container))
    assert diagnostic.policyName == "no-plaintext-secret-env"
    assert "sets SECRET_KEY as a plaintext value" in diagnostic.message
    assert "0123456789abcdef" not in diagnostic.message


def test_unknown_image_at_preview_is_an_advisory_note_not_a_violation(pack_on_test: PackProcess) -> None:
    [diagnostic] = pack_on_test.analyze(CONTAINER, "c", docker_container(image=UNKNOWN_STRING_VALUE))
    assert diagnostic.policyName == "images-by-digest"
    assert diagnostic.enforcementLevel == proto.ADVISORY
    assert "during preview" in diagnostic.message


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_pack_requirements_pin_the_same_versions_as_the_repository_locks() -> None:
    pack = pins(REPO_ROOT / "policy" / "requirements.txt")
    locked = pins(REPO_ROOT / "requirements-dev.txt")
    assert pack, "policy/requirements.txt pins nothing"
    assert {name: locked.get(name) for name in pack} == pack
