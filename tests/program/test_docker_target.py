"""The `test` stack (docker target): every deploy fact of the old `online.sh test`, as the engine receives it.

Each assertion reads a RegisterResource request the mock monitor recorded after the whole program
ran to completion (every Output resolved and awaited), never a value inside an unawaited apply.
"""

from __future__ import annotations

import itertools
import shlex

import pytest

from components.contract import (
    APP_UID,
    CONTAINER_NAME,
    DATA_MOUNT,
    LOG_MOUNT,
    MIGRATION_COMMAND,
    PUBLIC_PORT,
    SERVICE_PORT,
)
from tests.support.pulumi_mocks import ProgramRun, Registration, is_secret, plain, run_program
from tests.support.resource_types import (
    API_CONTAINER,
    COMMAND,
    CONTAINER,
    DOCKER_PROVIDER,
    IMAGE,
    NETWORK,
    VOLUME,
)
from tests.support.stack_config import TEST_SECRET_KEY

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the old script's `-p 8083:8000` published on every interface


def image_ref(run: ProgramRun) -> str:
    return plain(run.one(IMAGE).outputs["repoDigest"])


def migration(run: ProgramRun) -> Registration:
    return run.named("migration-upgrade")


def test_image_is_built_from_app_with_the_contract_build_args_and_kept_local(test_stack: ProgramRun) -> None:
    image = test_stack.one(IMAGE)
    assert image.input("imageName") == "microservice.model:test"
    assert image.input("skipPush") is True
    assert image.input("registry") is None
    assert image.input("build") == {
        "context": "app",
        "dockerfile": "app/Dockerfile",
        "args": {"BASE_IMAGE": "python:3.12-slim", "PIP_INDEX_URL": "", "VERSION": "test"},
        "target": "runtime",
        "builderVersion": "BuilderBuildKit",  # said explicitly (components/image.py says why)
    }


def test_container_runs_the_image_by_digest_not_by_tag(test_stack: ProgramRun) -> None:
    ref = image_ref(test_stack)
    assert ref.startswith("sha256:")
    assert test_stack.one(CONTAINER).input("image") == ref


def test_container_is_named_microservice_model_and_publishes_8083_to_8000(test_stack: ProgramRun) -> None:
    container = test_stack.one(CONTAINER)
    assert container.input("name") == CONTAINER_NAME
    assert container.input("ports") == [
        {"internal": SERVICE_PORT, "external": PUBLIC_PORT, "ip": ALL_INTERFACES, "protocol": "tcp"}
    ]


def test_container_mounts_the_stack_log_dir_at_app_logs_and_a_named_volume_at_app_data(
    test_stack: ProgramRun,
) -> None:
    mounts = {m["target"]: m for m in test_stack.one(CONTAINER).input("mounts")}
    assert mounts[LOG_MOUNT] == {"target": LOG_MOUNT, "type": "bind", "source": "/tmp/data/test/logs"}
    assert mounts[DATA_MOUNT] == {
        "target": DATA_MOUNT,
        "type": "volume",
        "source": "microservice-model-data-test",
    }
    volume = test_stack.one(VOLUME)
    assert volume.input("name") == "microservice-model-data-test"
    assert volume.retain_on_delete is True


def test_container_env_sets_runtime_env_test(test_stack: ProgramRun) -> None:
    envs = test_stack.one(CONTAINER).input("envs")
    assert "RUNTIME_ENV=test" in envs
    assert f"IMAGE_REF={image_ref(test_stack)}" in envs  # /version names the image by digest
    assert "GUNICORN_GRACEFUL_TIMEOUT=30" in envs


def test_container_restarts_checks_health_and_waits_for_healthy(test_stack: ProgramRun) -> None:
    container = test_stack.one(CONTAINER)
    assert container.input("restart") == "unless-stopped"
    assert container.input("healthcheck")["tests"] == ["CMD", "python", "/app/healthcheck.py"]
    assert container.input("wait") is True
    assert container.input("waitTimeout") == 120
    # docker stop waits longer than gunicorn's graceful timeout (30 s) before SIGKILL
    assert container.input("stopTimeout") == 45


def test_container_stdout_logs_are_rotated_by_the_engine(test_stack: ProgramRun) -> None:
    container = test_stack.one(CONTAINER)
    assert container.input("logDriver") == "json-file"
    assert container.input("logOpts") == {"max-size": "10m", "max-file": "3"}


def test_container_with_fixed_name_and_port_is_deleted_before_its_replacement(test_stack: ProgramRun) -> None:
    assert test_stack.one(CONTAINER).delete_before_replace is True


def test_container_joins_the_stack_network(test_stack: ProgramRun) -> None:
    network = test_stack.one(NETWORK)
    assert network.input("name") == "microservice-model-test"
    assert test_stack.one(CONTAINER).input("networksAdvanced") == [{"name": "microservice-model-test"}]


def test_migration_runs_flask_db_upgrade_in_the_new_image_with_the_service_env_volumes_and_network(
    test_stack: ProgramRun,
) -> None:
    argv = shlex.split(migration(test_stack).input("create"))
    ref = image_ref(test_stack)
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[-4:] == [ref, *MIGRATION_COMMAND]
    flags = list(itertools.pairwise(argv))
    assert ("--network", "microservice-model-test") in flags
    assert ("--volume", f"microservice-model-data-test:{DATA_MOUNT}") in flags
    assert ("--volume", f"/tmp/data/test/logs:{LOG_MOUNT}") in flags
    assert ("--env", "RUNTIME_ENV") in flags
    assert migration(test_stack).input("environment")["RUNTIME_ENV"] == "test"


def test_migration_is_keyed_on_the_image_digest(test_stack: ProgramRun) -> None:
    assert migration(test_stack).input("triggers") == [image_ref(test_stack)]


def test_log_dir_is_prepared_on_every_run_and_the_migration_only_for_a_new_image() -> None:
    # The same image twice: a host log dir removed in between (reboot, tmp cleaning) is made again,
    # because the log-dir command's triggers change every run; the migration's do not.
    first, second = run_program("test"), run_program("test")
    assert image_ref(first) == image_ref(second)
    log_dir = [run.named("runtime-log-dir").input("triggers") for run in (first, second)]
    assert log_dir[0][:2] == log_dir[1][:2] == [image_ref(first), "/tmp/data/test/logs"]
    assert log_dir[0] != log_dir[1]
    assert migration(first).input("triggers") == migration(second).input("triggers")


def test_any_container_change_and_a_failed_start_replace_the_container(test_stack: ProgramRun) -> None:
    # "*": the provider would otherwise update healthcheck, wait and restart in place (applying only the
    # restart policy), and keep a container that never got healthy as it is on the next run.
    container = test_stack.one(CONTAINER)
    assert container.replace_on_changes == ["*"]
    assert container.delete_before_replace is True


def test_migration_runs_before_the_container_and_after_the_image(test_stack: ProgramRun) -> None:
    container = test_stack.one(CONTAINER)
    assert migration(test_stack).urn in container.dependencies
    assert test_stack.one(IMAGE).urn in migration(test_stack).dependencies


def test_log_dir_is_created_for_the_non_root_user_before_the_migration_uses_it(
    test_stack: ProgramRun,
) -> None:
    prepare = test_stack.named("runtime-log-dir")
    argv = shlex.split(prepare.input("create"))
    assert argv[:3] == ["docker", "run", "--rm"]
    assert ("--volume", f"/tmp/data/test/logs:{LOG_MOUNT}") in list(itertools.pairwise(argv))
    assert ("--entrypoint", "chown") in list(itertools.pairwise(argv))
    assert ("--user", "0:0") in list(itertools.pairwise(argv))
    assert argv[-3:] == [image_ref(test_stack), f"{APP_UID}:{APP_UID}", LOG_MOUNT]
    assert prepare.urn in migration(test_stack).dependencies


def test_every_docker_resource_uses_the_explicit_provider_for_the_configured_host(
    test_stack: ProgramRun,
) -> None:
    provider = test_stack.one(DOCKER_PROVIDER)
    assert provider.input("host") == "unix:///var/run/docker.sock"
    for resource in test_stack.resources:
        if resource.type.startswith("docker:"):
            assert resource.provider_urn == provider.urn, resource.name
    for command in test_stack.of_type(COMMAND):
        assert command.input("environment")["DOCKER_HOST"] == "unix:///var/run/docker.sock"


def test_children_are_parented_by_their_component(test_stack: ProgramRun) -> None:
    parents = {r.name: r.parent.rsplit("::", 1)[-1] for r in test_stack.resources if r.custom}
    assert parents["image-build"] == "image"
    assert parents["runtime-network"] == "runtime"
    assert parents["migration-upgrade"] == "migration"
    assert parents["api-container"] == "api"


def test_exports_url_image_digest_and_container_name(test_stack: ProgramRun) -> None:
    assert test_stack.export("url") == f"http://127.0.0.1:{PUBLIC_PORT}"
    assert test_stack.export("imageDigest") == image_ref(test_stack)
    assert test_stack.export("containerName") == CONTAINER_NAME
    assert test_stack.export("runtimeEnv") == "test"
    assert test_stack.export("target") == "docker"
    assert not any(is_secret(value) for value in test_stack.exports.values())


def test_no_kubernetes_resource_on_the_docker_target(test_stack: ProgramRun) -> None:
    assert not [r for r in test_stack.resources if r.type.startswith("kubernetes:")]


@pytest.fixture(scope="module")
def test_stack_with_secrets() -> ProgramRun:
    return run_program(
        "test",
        secrets={
            "databaseUrl": "postgresql+psycopg://model:pw-789@db:5432/model",
            "secretKey": TEST_SECRET_KEY,
        },
    )


def test_secrets_reach_the_container_as_files_of_the_app_user(test_stack_with_secrets: ProgramRun) -> None:
    container = test_stack_with_secrets.named(API_CONTAINER)
    envs = container.input("envs")
    assert "DATABASE_URL_FILE=/run/secrets/database_url" in envs
    assert "SECRET_KEY_FILE=/run/secrets/secret_key" in envs
    assert not [e for e in envs if e.startswith(("DATABASE_URL=", "SECRET_KEY="))]
    assert not is_secret(container.inputs["envs"])  # nothing secret left in it
    assert is_secret(container.inputs["uploads"])
    by_file = {upload["file"]: upload for upload in container.input("uploads")}
    owned = {"owner": str(APP_UID), "group": str(APP_UID), "permissions": "0400"}
    assert by_file == {
        "/run/secrets/database_url": {
            "file": "/run/secrets/database_url",
            "content": "postgresql+psycopg://model:pw-789@db:5432/model",
            **owned,
        },
        "/run/secrets/secret_key": {"file": "/run/secrets/secret_key", "content": TEST_SECRET_KEY, **owned},
    }


def test_without_secrets_the_container_uploads_nothing(test_stack: ProgramRun) -> None:
    container = test_stack.one(CONTAINER)
    assert container.input("uploads") in (None, [])
    assert not [e for e in container.input("envs") if e.split("=", 1)[0].endswith("_FILE")]


def test_migration_gets_secrets_through_its_environment_never_its_command_line(
    test_stack_with_secrets: ProgramRun,
) -> None:
    command = migration(test_stack_with_secrets)
    assert is_secret(command.inputs["environment"])
    assert command.input("environment")["DATABASE_URL"] == "postgresql+psycopg://model:pw-789@db:5432/model"
    create = command.input("create")
    assert not is_secret(command.inputs["create"])
    assert "pw-789" not in create
    assert TEST_SECRET_KEY not in create
    # The container gets the files (created, files copied in, started), never the values as env vars.
    words = create.split()
    assert "DATABASE_URL_FILE" in words
    assert "SECRET_KEY_FILE" in words
    assert "DATABASE_URL" not in words
    assert "SECRET_KEY" not in words
    assert "| docker cp - " in create
    assert 'docker start --attach "$id"' in create


def test_container_suffix_and_host_ip_and_ssh_docker_host_are_honoured() -> None:
    run = run_program(
        "test",
        overrides={
            "containerSuffix": "blue",
            "frontProxy": "none",
            "hostIp": "127.0.0.1",
            "hostPort": 9083,
            "dockerHost": "ssh://deploy@build-host.internal",
            "platform": "linux/amd64",
        },
    )
    container = run.named(API_CONTAINER)
    assert container.input("name") == "microservice.model-blue"
    assert container.input("ports")[0]["ip"] == "127.0.0.1"
    assert container.input("ports")[0]["external"] == 9083
    assert run.one(DOCKER_PROVIDER).input("host") == "ssh://deploy@build-host.internal"
    assert migration(run).input("environment")["DOCKER_HOST"] == "ssh://deploy@build-host.internal"
    assert run.export("url") == "http://127.0.0.1:9083"


def test_url_names_the_remote_host_when_published_on_all_interfaces_of_an_ssh_docker_host() -> None:
    run = run_program(
        "test", overrides={"dockerHost": "ssh://deploy@build-host.internal:2222", "platform": "linux/amd64"}
    )
    assert run.export("url") == "http://build-host.internal:8083"
