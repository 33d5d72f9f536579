"""The harness itself: what it does not understand fails loudly; a failing command or an unhealthy
container fails the run with its output."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest
from pulumi.runtime.mocks import MockResourceArgs

from tests.support.docker_engine.container import ContainerSpec
from tests.support.docker_engine.declared import (
    HARNESS_LABEL,
    FailedToInitialise,
    HarnessError,
    go_duration_ns,
)
from tests.support.docker_engine.diff import container_plan
from tests.support.docker_engine.mocks import DockerEngineMocks, RegisterRequest
from tests.support.resource_types import CONTAINER as CONTAINER_TYPE

CONTAINER = {"name": "c", "image": "sha256:abc", "ports": [{"internal": 8000.0, "external": 8083.0}]}


def create(mocks: DockerEngineMocks, typ: str, inputs: dict) -> tuple[str | None, dict]:
    mocks.registering(RegisterRequest(f"urn:pulumi:test::p::{typ}::r", [], False, False))
    return mocks.new_resource(MockResourceArgs(typ=typ, name="r", inputs=inputs, custom=True))


@pytest.fixture
def mocks(tmp_path: Path) -> DockerEngineMocks:
    return DockerEngineMocks(run_label="unit", program_dir=tmp_path)


def test_container_input_the_harness_does_not_understand_fails_naming_it() -> None:
    with pytest.raises(HarnessError, match=r"does not understand declared inputs \['privileged'\]"):
        ContainerSpec.from_declared("c", {**CONTAINER, "privileged": True})


def test_nested_input_the_harness_does_not_understand_fails_naming_its_path() -> None:
    ports = [{"internal": 8000.0, "external": 8083.0, "hostRange": "x"}]
    with pytest.raises(HarnessError, match=r"ports\[0\].*\['hostRange'\]"):
        ContainerSpec.from_declared("c", {**CONTAINER, "ports": ports})


def test_declared_container_maps_onto_engine_parameters() -> None:
    spec = ContainerSpec.from_declared(
        "c",
        {
            **CONTAINER,
            "ports": [{"internal": 8000.0, "external": 8083.0, "ip": "127.0.0.1", "protocol": "tcp"}],
            "envs": ["RUNTIME_ENV=test"],
            "restart": "unless-stopped",
            "healthcheck": {"tests": ["CMD", "true"], "interval": "10s", "retries": 3.0},
            "stopTimeout": 45.0,
        },
    )
    assert spec.host_config_kwargs["port_bindings"] == {"8000/tcp": ("127.0.0.1", 8083)}
    assert spec.host_config_kwargs["restart_policy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert spec.create_kwargs["environment"] == ["RUNTIME_ENV=test"]
    assert spec.create_kwargs["healthcheck"]["interval"] == 10 * 10**9
    assert spec.create_kwargs["stop_timeout"] == 45


def test_unsupported_resource_type_fails_naming_it(mocks: DockerEngineMocks) -> None:
    with pytest.raises(HarnessError, match="docker:index/service:Service r: the harness cannot create"):
        create(mocks, "docker:index/service:Service", {})


def test_remote_docker_host_is_refused(mocks: DockerEngineMocks) -> None:
    with pytest.raises(HarnessError, match="only drives the local engine"):
        create(mocks, "pulumi:providers:docker", {"host": "ssh://deploy@example.invalid"})


def test_failing_command_fails_with_its_exit_status_and_stderr(mocks: DockerEngineMocks) -> None:
    with pytest.raises(HarnessError, match=r"exit status 3(.|\n)*stderr: boom from FLAG=on"):
        create(
            mocks,
            "command:local:Command",
            {"create": "echo boom from FLAG=$FLAG >&2; exit 3", "environment": {"FLAG": "on"}},
        )
    assert mocks.events[-1].action == "failed"


def test_command_runs_with_declared_environment_and_returns_stdout(mocks: DockerEngineMocks) -> None:
    _, outputs = create(
        mocks, "command:local:Command", {"create": "echo $GREETING", "environment": {"GREETING": "hi"}}
    )
    assert outputs["stdout"] == "hi"


def test_go_durations_parse_like_the_provider_and_bad_ones_fail() -> None:
    assert go_duration_ns("1m30s") == 90 * 10**9
    assert go_duration_ns("500ms") == 500 * 10**6
    with pytest.raises(HarnessError, match="not a Go duration"):
        go_duration_ns("10 seconds")


def test_container_that_never_gets_healthy_fails_with_its_logs(base_image: str) -> None:
    run_label = f"unit-{uuid.uuid4().hex[:8]}"
    spec = ContainerSpec.from_declared(
        "c",
        {
            "name": f"deploy-test-unhealthy-{run_label}",
            "image": base_image,
            "command": ["sh", "-c", "echo booting-but-never-healthy; sleep 120"],
            "healthcheck": {"tests": ["CMD", "false"], "interval": "1s", "retries": 1.0},
            "wait": True,
            "waitTimeout": 5.0,
        },
    )
    client = docker.from_env()
    try:
        never_healthy = r"not healthy within 5s(.|\n)*booting-but-never-healthy"
        with pytest.raises(FailedToInitialise, match=never_healthy):
            spec.create_and_start(client, run_label)
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{HARNESS_LABEL}={run_label}"}):
            container.remove(force=True)


HEALTHCHECK = {"tests": ["CMD", "true"]}
PREVIOUS = {"inputs": {"name": "c", "image": "sha256:a", "restart": "no", "healthcheck": HEALTHCHECK}}


@pytest.mark.parametrize(
    ("change", "replace_on_changes", "init_errors", "action"),
    [
        ({}, [], False, "same"),
        ({"restart": "always"}, [], False, "update"),
        ({"healthcheck": {"tests": ["CMD", "false"]}}, [], False, "update"),
        ({"healthcheck": {"tests": ["CMD", "false"]}}, ["healthcheck"], False, "replace"),
        ({"image": "sha256:b"}, [], False, "replace"),
        ({"restart": "always"}, ["*"], False, "replace"),
        ({}, [], True, "update"),  # the bridge's update after a failed initialisation: changes nothing
        ({}, ["*"], True, "replace"),  # the engine's "#initerror" replace key
    ],
)
def test_container_plan_follows_the_provider_diff_and_replace_on_changes(
    change: dict, replace_on_changes: list[str], init_errors: bool, action: str
) -> None:
    previous = {**PREVIOUS, "init_errors": ["not healthy"] if init_errors else []}
    plan = container_plan(previous, {**PREVIOUS["inputs"], **change}, replace_on_changes)
    assert plan.action == action, plan.reason


def test_provider_update_applies_only_the_restart_policy_to_the_running_container(
    base_image: str, tmp_path: Path
) -> None:
    run_label = f"unit-{uuid.uuid4().hex[:8]}"
    declared = {
        "name": f"deploy-test-update-{run_label}",
        "image": base_image,
        "command": ["sleep", "300"],
        "restart": "no",
        "healthcheck": {"tests": ["CMD", "true"], "interval": "30s", "retries": 1.0},
        "destroyGraceSeconds": 0.0,
    }
    client = docker.from_env()
    try:
        first = DockerEngineMocks(run_label=run_label, program_dir=tmp_path)
        created, _ = create(first, CONTAINER_TYPE, declared)
        # Not force-new in the provider: an update, which changes the restart policy only.
        new_check = {"tests": ["CMD", "false"], "retries": 2.0}
        changed = {**declared, "restart": "always", "healthcheck": new_check}
        second = DockerEngineMocks(run_label=run_label, program_dir=tmp_path, previous_state=first.state)
        updated, _ = create(second, CONTAINER_TYPE, changed)

        assert second.events[-1].action == "update"
        assert updated == created
        container = client.containers.get(str(created))
        assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
        assert container.attrs["Config"]["Healthcheck"]["Test"] == ["CMD", "true"], "never reaches it"

        # Force-new (env): a new container; without delete_before_replace the new one comes first and
        # the old one runs on until the end of the update, as the engine deletes it then.
        third = DockerEngineMocks(run_label=run_label, program_dir=tmp_path, previous_state=second.state)
        renamed = {**changed, "name": f"{declared['name']}-2", "envs": ["A=1"]}
        replaced, _ = create(third, CONTAINER_TYPE, renamed)
        assert third.events[-1].action == "replace-create-first"
        assert replaced != created
        assert client.containers.get(str(created)).status == "running"
        third.delete_undeclared()
        assert [event.action for event in third.events[-2:]] == ["replace-create-first", "delete"]
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(str(created))
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{HARNESS_LABEL}={run_label}"}):
            container.remove(force=True)


SECRET_UPLOAD = {"file": "/run/secrets/secret_key", "content": "s3cr3t", "owner": "10001", "group": "10001"}


def test_uploads_become_one_archive_with_the_declared_owner_and_mode() -> None:
    spec = ContainerSpec.from_declared(
        "c", {**CONTAINER, "uploads": [{**SECRET_UPLOAD, "permissions": "0400"}]}
    )
    assert spec.uploads is not None
    assert "s3cr3t" not in repr(spec)  # a spec in an error message never shows a secret
    with tarfile.open(fileobj=io.BytesIO(spec.uploads)) as archive:
        [member] = archive.getmembers()
        assert (member.name, member.mode, member.uid, member.gid) == (
            "run/secrets/secret_key",
            0o400,
            10001,
            10001,
        )
        file = archive.extractfile(member)
        assert file is not None
        assert file.read() == b"s3cr3t"


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            {**SECRET_UPLOAD, "mode": "0400"},
            r"uploads\[0\]: the harness does not understand declared inputs \['mode'\]",
        ),
        ({**SECRET_UPLOAD, "source": "/etc/hostname"}, r"'source' is not supported"),
        (
            {"file": "/x", "content": "a", "contentBase64": "YQ=="},
            r"declare exactly one of content, contentBase64",
        ),
        ({**SECRET_UPLOAD, "owner": "app"}, r"owner 'app' must be numeric"),
        ({**SECRET_UPLOAD, "file": "relative"}, r"file 'relative' must be an absolute path"),
    ],
)
def test_an_upload_the_harness_cannot_carry_out_fails_naming_it(upload: dict, message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        ContainerSpec.from_declared("c", {**CONTAINER, "uploads": [upload]})


def test_a_run_that_fails_after_a_create_first_replacement_leaves_the_old_container_to_the_next_run(
    base_image: str, tmp_path: Path
) -> None:
    """As Pulumi keeps a replaced resource "pending deletion" in the state when the update fails before
    its end: the old container is not forgotten (still running), and the next run deletes it."""
    run_label = f"unit-{uuid.uuid4().hex[:8]}"
    declared = {"name": f"deploy-test-pending-{run_label}", "image": base_image, "command": ["sleep", "300"]}
    client = docker.from_env()
    try:
        first = DockerEngineMocks(run_label=run_label, program_dir=tmp_path)
        old, _ = create(first, CONTAINER_TYPE, declared)
        second = DockerEngineMocks(run_label=run_label, program_dir=tmp_path, previous_state=first.state)
        new_inputs = {**declared, "name": f"{declared['name']}-2", "envs": ["A=1"]}
        new, _ = create(second, CONTAINER_TYPE, new_inputs)
        # The run fails here (no delete_undeclared); run_stack.py keeps what it had plus the old rest.
        after_failure = {**first.state, **second.state}
        assert client.containers.get(str(old)).status == "running"

        third = DockerEngineMocks(run_label=run_label, program_dir=tmp_path, previous_state=after_failure)
        same, _ = create(third, CONTAINER_TYPE, new_inputs)
        third.delete_undeclared()

        assert same == new
        assert [event.action for event in third.events] == ["same", "delete"]
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(str(old))
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{HARNESS_LABEL}={run_label}"}):
            container.remove(force=True)
