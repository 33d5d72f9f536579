"""The real program, run under Pulumi mocks for `test` and `prod`, passes the policy pack.

Every registration the engine would receive is sent to the pack process over gRPC, as `pulumi
preview --policy-pack policy` does: each resource's inputs to Analyze (secrets still marked, as the
engine sends them), then the whole stack (outputs, parents, dependencies) to AnalyzeStack. The
pack cannot see whether a Docker env value is a Pulumi secret (pulumi-policy strips the mark), so
that part is checked here from the raw registrations instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.rpc import wrap_rpc_secret as secret_mark
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.microservice_policies.secret_env import looks_secret
from tests.support.policy import PackProcess, running_pack
from tests.support.pulumi_mocks import ProgramRun, Registration, is_secret, plain, run_program
from tests.support.resource_types import API_CONTAINER, COMMAND, CONTAINER, DEPLOYMENT, JOB
from tests.support.stack_config import TEST_SECRET_KEY

# `pulumi config set --secret` values for the test stack too, so its env carries secrets to check.
TEST_STACK_SECRETS = {
    "secretKey": TEST_SECRET_KEY,
    "databaseUrl": "postgresql+psycopg://model:test-db-password@127.0.0.1:5432/model",
}


def as_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(json.loads(json.dumps(props)))  # fails loudly on anything the engine could not send
    return result


def unknown_digest(value: Any, digest: str) -> Any:
    """The value as a preview sends it: anything built from the not-yet-built image is unknown."""
    if isinstance(value, dict):
        return {key: unknown_digest(item, digest) for key, item in value.items()}
    if isinstance(value, list):
        return [unknown_digest(item, digest) for item in value]
    if isinstance(value, str) and digest in value:
        return UNKNOWN_STRING_VALUE
    return value


def analyze_every_resource(pack: PackProcess, run: ProgramRun) -> list[str]:
    found = []
    for registration in run.resources:
        for diagnostic in pack.analyze(
            registration.type, registration.name, registration.inputs, urn=registration.urn
        ):
            found.append(f"{diagnostic.policyName} on {registration.name}: {diagnostic.message}")
    return found


def stack_resources(run: ProgramRun, unknown: str = "") -> list[Any]:
    """The stack as AnalyzeStack gets it: outputs, parents, dependencies (`unknown`: a preview's digest)."""
    return [
        proto.AnalyzerResource(
            type=r.type,
            name=r.name,
            urn=r.urn,
            parent=r.parent,
            properties=as_struct(unknown_digest(r.outputs, unknown) if unknown else r.outputs),
            dependencies=r.dependencies,
        )
        for r in run.resources
    ]


def analyze_stack(pack: PackProcess, run: ProgramRun) -> list[str]:
    return [f"{d.policyName}: {d.message}" for d in pack.analyze_stack(stack_resources(run))]


@pytest.fixture(scope="module", params=["test", "prod"])
def stack_run(request: pytest.FixtureRequest) -> Iterator[tuple[ProgramRun, PackProcess]]:
    stack = request.param
    run = run_program(stack, secrets=TEST_STACK_SECRETS if stack == "test" else None)
    with running_pack(stack) as pack:
        yield run, pack


def test_every_resource_passes_the_pack(stack_run: tuple[ProgramRun, PackProcess]) -> None:
    run, pack = stack_run
    assert run.resources, "the program declared nothing"
    assert analyze_every_resource(pack, run) == []


def test_the_stack_passes_the_stack_policies(stack_run: tuple[ProgramRun, PackProcess]) -> None:
    run, pack = stack_run
    assert analyze_stack(pack, run) == []


def test_at_preview_the_pack_only_notes_what_it_cannot_know_yet(
    stack_run: tuple[ProgramRun, PackProcess],
) -> None:
    """Before the build the digest is unknown: rules that need it say so (advisory), none is violated."""
    run, pack = stack_run
    digest = str(run.export("imageDigest")).rsplit("sha256:", 1)[1]
    levels: dict[str, set[int]] = {}
    for r in run.resources:
        inputs = unknown_digest(r.inputs, digest)
        for diagnostic in pack.analyze(r.type, r.name, inputs, urn=r.urn):
            levels.setdefault(diagnostic.policyName, set()).add(diagnostic.enforcementLevel)
            assert "can't be known during preview" in diagnostic.message, diagnostic.message
    assert "images-by-digest" in levels  # the container / Deployment image really was unknown
    assert set().union(*levels.values()) == {proto.ADVISORY}
    assert pack.analyze_stack(stack_resources(run, unknown=digest)) == []


def test_the_pack_sees_the_service_and_its_migration(stack_run: tuple[ProgramRun, PackProcess]) -> None:
    """Guards against a silent pass: the rules' resource types are the program's."""
    run, _ = stack_run
    types = {r.type for r in run.resources}
    if run.stack == "test":
        assert {CONTAINER, COMMAND} <= types
    else:
        assert {DEPLOYMENT, JOB} <= types


def secret_looking_values(registration: Registration) -> Iterator[tuple[str, Any]]:
    """(name, raw value with its secret mark) for each secret-looking env entry of a container or command."""
    if registration.type == CONTAINER:
        envs = registration.inputs.get("envs") or []
        whole_list_secret = is_secret(envs)
        for index, entry in enumerate(plain(envs)):
            name, _, value = entry.partition("=")
            if value and looks_secret(name, value):
                yield name, envs if whole_list_secret else envs[index]
    elif registration.type == COMMAND:
        environment = registration.inputs.get("environment") or {}
        whole_map_secret = is_secret(environment)
        for name, value in plain(environment).items():
            if value and looks_secret(name, value):
                yield name, environment if whole_map_secret else environment[name]


def test_secret_looking_docker_env_values_are_pulumi_secrets() -> None:
    run = run_program("test", secrets=TEST_STACK_SECRETS)
    checked = {
        (r.name, name): is_secret(raw)
        for r in run.resources
        if r.type in (CONTAINER, COMMAND)
        for name, raw in secret_looking_values(r)
    }
    assert checked, "no secret-looking env value found: the check would prove nothing"
    assert {key for key, secret in checked.items() if not secret} == set()


def test_docker_secret_files_are_pulumi_secrets_and_no_secret_is_in_the_containers_env() -> None:
    run = run_program("test", secrets=TEST_STACK_SECRETS)
    container = run.named(API_CONTAINER)
    assert list(secret_looking_values(container)) == []
    # The whole list is a Pulumi secret (it holds secret values), so its contents never show in a diff.
    assert is_secret(container.inputs["uploads"])
    files = {upload["file"] for upload in plain(container.inputs["uploads"])}
    assert files == {"/run/secrets/secret_key", "/run/secrets/database_url"}


def test_the_secret_check_tells_plaintext_from_pulumi_secrets() -> None:
    """The check above can fail: a plaintext SECRET_KEY in a container's envs is found as such."""
    container = Registration(
        urn="urn:pulumi:test::microservice-model::docker:index/container:Container::c",
        type=CONTAINER,
        name="c",
        parent="",
        custom=True,
        inputs={"envs": ["RUNTIME_ENV=test", "SECRET_KEY=plain", secret_mark("DATABASE_URL=sqlite:///x")]},
        dependencies=[],
        provider="",
        delete_before_replace=False,
        replace_on_changes=[],
        retain_on_delete=False,
    )
    assert [(name, is_secret(raw)) for name, raw in secret_looking_values(container)] == [
        ("SECRET_KEY", False)
    ]
