"""`imageRef`: roll back by deploying an earlier image, pinned by digest, instead of building app/.

Each stack runs the real program with `imageRef` set, as after `pulumi config set imageRef ...`:
nothing is built, and the migration, the container / Deployment and the `imageDigest` export all
use exactly that reference. Refs that are not pinned by digest stop the program before any resource.
"""

from __future__ import annotations

import shlex

import pytest

from components.contract import APP_UID, LOG_MOUNT, MIGRATION_COMMAND
from components.settings import SettingsError, parse_settings
from tests.support.pulumi_mocks import ProgramRun, is_unknown, plain, run_failing_program, run_program
from tests.support.resource_types import API_CONTAINER, DEPLOYMENT, DOCKER_PROVIDER, IMAGE, JOB
from tests.support.stack_config import TEST_SECRET_KEY
from tests.support.workloads import main_container

DIGEST = "sha256:" + "5e" * 32
LOCAL_ID = DIGEST  # what the docker target exports as imageDigest
PROD_REF = f"registry.example.com/microservice-model/service@{DIGEST}"  # what the kubernetes target exports
GOOD_DATABASE_URL = "postgresql+psycopg://model:pw@db:5432/model"


def main_image(run: ProgramRun, type_: str) -> str:
    return str(main_container(run.one(type_))["image"])


@pytest.fixture(scope="module")
def pinned_test_stack() -> ProgramRun:
    return run_program("test", overrides={"imageRef": LOCAL_ID})


@pytest.fixture(scope="module")
def pinned_prod_stack() -> ProgramRun:
    return run_program("prod", overrides={"imageRef": PROD_REF})


# --- docker target (the test stack) ---


def test_pinned_test_stack_builds_no_image(pinned_test_stack: ProgramRun) -> None:
    assert pinned_test_stack.of_type(IMAGE) == []
    assert not [r for r in pinned_test_stack.resources if r.name.startswith("image")]


def test_pinned_test_stack_runs_the_container_from_exactly_the_pinned_ref(
    pinned_test_stack: ProgramRun,
) -> None:
    assert pinned_test_stack.named(API_CONTAINER).input("image") == LOCAL_ID


def test_pinned_test_stack_migrates_with_the_pinned_image_before_the_container(
    pinned_test_stack: ProgramRun,
) -> None:
    migration = pinned_test_stack.named("migration-upgrade")
    assert shlex.split(migration.input("create"))[-4:] == [LOCAL_ID, *MIGRATION_COMMAND]
    assert migration.input("triggers") == [LOCAL_ID]
    assert migration.urn in pinned_test_stack.named(API_CONTAINER).dependencies


def test_pinned_test_stack_prepares_the_log_dir_with_the_pinned_image(pinned_test_stack: ProgramRun) -> None:
    prepare = pinned_test_stack.named("runtime-log-dir")
    assert shlex.split(prepare.input("create"))[-3:] == [LOCAL_ID, f"{APP_UID}:{APP_UID}", LOG_MOUNT]


def test_pinned_test_stack_exports_the_pinned_ref_as_image_digest(pinned_test_stack: ProgramRun) -> None:
    assert pinned_test_stack.export("imageDigest") == LOCAL_ID


def test_pinned_test_stack_still_runs_everything_on_the_configured_docker_host(
    pinned_test_stack: ProgramRun,
) -> None:

    provider = pinned_test_stack.one(DOCKER_PROVIDER)
    assert provider.input("host") == "unix:///var/run/docker.sock"
    assert pinned_test_stack.named(API_CONTAINER).provider_urn == provider.urn


def test_docker_target_accepts_a_repository_digest_too() -> None:
    ref = f"microservice.model@{DIGEST}"
    run = run_program("test", overrides={"imageRef": ref})
    assert run.of_type(IMAGE) == []
    assert run.named(API_CONTAINER).input("image") == ref
    assert run.export("imageDigest") == ref


def test_docker_rollback_redeploys_the_digest_an_earlier_update_exported() -> None:
    good = run_program("test")
    bad = run_program("test", overrides={"baseImage": "python:3.12.99-slim"})  # a later, bad release
    assert bad.export("imageDigest") != good.export("imageDigest")
    rolled_back = run_program("test", overrides={"imageRef": good.export("imageDigest")})
    assert rolled_back.named(API_CONTAINER).input("image") == good.named(API_CONTAINER).input("image")
    assert rolled_back.named("migration-upgrade").input("create") == good.named("migration-upgrade").input(
        "create"
    )


# --- kubernetes target (the prod stack) ---


def test_pinned_prod_stack_builds_nothing_and_needs_no_docker_engine(pinned_prod_stack: ProgramRun) -> None:
    assert pinned_prod_stack.of_type(IMAGE) == []
    assert pinned_prod_stack.of_type(DOCKER_PROVIDER) == []
    assert not [r for r in pinned_prod_stack.resources if r.type.startswith("docker:")]


def test_pinned_prod_stack_runs_the_deployment_and_job_from_exactly_the_pinned_ref(
    pinned_prod_stack: ProgramRun,
) -> None:
    assert main_image(pinned_prod_stack, DEPLOYMENT) == PROD_REF
    assert main_image(pinned_prod_stack, JOB) == PROD_REF


def test_pinned_prod_stack_migrates_in_a_job_named_after_the_pinned_digest_before_the_deployment(
    pinned_prod_stack: ProgramRun,
) -> None:
    job = pinned_prod_stack.one(JOB)
    assert main_container(job)["command"] == list(MIGRATION_COMMAND)
    name = plain(pinned_prod_stack.named("migration-job").outputs["metadata"])["name"]
    assert name == f"microservice-model-migrate-{'5e' * 6}"
    assert pinned_prod_stack.export("migrationJobName") == name
    assert job.urn in pinned_prod_stack.one(DEPLOYMENT).dependencies


def test_pinned_prod_stack_exports_the_pinned_ref_as_image_digest(pinned_prod_stack: ProgramRun) -> None:
    assert pinned_prod_stack.export("imageDigest") == PROD_REF


def test_pinned_prod_stack_keeps_the_registry_pull_secret(pinned_prod_stack: ProgramRun) -> None:
    pull = pinned_prod_stack.named("runtime-pull-secret")
    name = plain(pull.outputs["metadata"])["name"]
    assert pinned_prod_stack.one(DEPLOYMENT).input("spec")["template"]["spec"]["imagePullSecrets"] == [
        {"name": name}
    ]


def test_kubernetes_rollback_redeploys_the_digest_an_earlier_update_exported() -> None:
    good = run_program("prod")
    bad = run_program("prod", overrides={"baseImage": "python:3.12.99-slim"})
    assert bad.export("imageDigest") != good.export("imageDigest")
    rolled_back = run_program("prod", overrides={"imageRef": good.export("imageDigest")})
    assert main_image(rolled_back, DEPLOYMENT) == main_image(good, DEPLOYMENT)
    assert rolled_back.export("migrationJobName") == good.export("migrationJobName")


# --- preview ---


@pytest.mark.parametrize(("stack", "ref"), [("test", LOCAL_ID), ("prod", PROD_REF)], ids=["test", "prod"])
def test_a_pinned_ref_is_known_at_preview(stack: str, ref: str) -> None:
    run = run_program(stack, overrides={"imageRef": ref}, preview=True)
    assert not is_unknown(run.exports["imageDigest"])
    assert run.export("imageDigest") == ref
    workload = run.named(API_CONTAINER).input("image") if stack == "test" else main_image(run, DEPLOYMENT)
    assert workload == ref


# --- bad values ---

NOT_PINNED = (
    "is not allowed: expected empty (build app/) or an image pinned by digest, "
    "<repository>@sha256:<64 hex> or, on the docker target, a local image ID sha256:<64 hex>, "
    "e.g. an earlier `pulumi stack output imageDigest`; tags such as :latest can move, so they are refused"
)
LOCAL_ID_ON_KUBERNETES = (
    "is not allowed on the kubernetes target: a local image ID exists in one Docker engine only; "
    "expected <registry host>/<repository>@sha256:<64 hex> the cluster can pull"
)
NO_REGISTRY_ON_KUBERNETES = (
    "is not allowed on the kubernetes target: the cluster pulls the image, so name its registry, "
    "e.g. registry.example.com/team/microservice-model@sha256:<64 hex>"
)

BAD_DOCKER_REFS = [
    pytest.param("microservice.model:test", id="tag"),
    pytest.param("microservice.model:latest", id="latest"),
    pytest.param("registry.example.com/team/service:latest", id="registry-latest"),
    pytest.param("microservice.model", id="bare-name"),
    pytest.param("microservice.model@sha256:5e5e5e", id="short-digest"),
    pytest.param("sha256:5e5e5e", id="short-local-id"),
    pytest.param("sha256:" + "5E" * 32, id="uppercase-hex"),
    pytest.param(f"microservice.model@md5:{'5e' * 16}", id="not-sha256"),
    pytest.param(f"microservice.model:test@{DIGEST}", id="tag-and-digest"),
    pytest.param(f"Microservice.Model@{DIGEST}", id="uppercase-repository"),
    pytest.param(f"@{DIGEST}", id="no-repository"),
    pytest.param(f" {DIGEST}", id="leading-space"),
    pytest.param("not an image", id="garbage"),
]


@pytest.mark.parametrize("ref", BAD_DOCKER_REFS)
def test_image_ref_not_pinned_by_digest_fails_naming_what_is_allowed(ref: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", {"imageRef": ref}, set())
    assert raised.value.problems == [f"imageRef = {ref!r} {NOT_PINNED}"]


def kubernetes_problems(ref: str) -> list[str]:
    values = {
        "target": "kubernetes",
        "imageRepository": "registry.example.com/team/service",
        "databaseUrl": GOOD_DATABASE_URL,
        "imageRef": ref,
        "secretKey": TEST_SECRET_KEY,
    }
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", values, {"databaseUrl", "secretKey"})
    return raised.value.problems


def test_local_image_id_on_kubernetes_fails_naming_what_the_cluster_can_pull() -> None:
    assert kubernetes_problems(LOCAL_ID) == [f"imageRef = {LOCAL_ID!r} {LOCAL_ID_ON_KUBERNETES}"]


def test_repository_digest_without_a_registry_on_kubernetes_fails() -> None:
    ref = f"microservice.model@{DIGEST}"
    assert kubernetes_problems(ref) == [f"imageRef = {ref!r} {NO_REGISTRY_ON_KUBERNETES}"]


def test_tag_on_kubernetes_fails_as_not_pinned() -> None:
    ref = "registry.example.com/team/service:prod"
    assert kubernetes_problems(ref) == [f"imageRef = {ref!r} {NOT_PINNED}"]


def test_valid_refs_are_kept_as_given_and_empty_means_build() -> None:
    assert parse_settings("test", {}, set()).image.pinned_ref is None
    assert parse_settings("test", {"imageRef": ""}, set()).image.pinned_ref is None
    assert parse_settings("test", {"imageRef": LOCAL_ID}, set()).image.pinned_ref == LOCAL_ID
    registry_port = f"registry.example.com:5000/team/service@{DIGEST}"
    assert parse_settings("test", {"imageRef": registry_port}, set()).image.pinned_ref == registry_port


@pytest.mark.parametrize(
    ("stack", "ref", "message"),
    [
        ("test", "microservice.model:latest", NOT_PINNED),
        ("prod", "registry.example.com/microservice-model/service:latest", NOT_PINNED),
        ("prod", LOCAL_ID, LOCAL_ID_ON_KUBERNETES),
    ],
    ids=["test-latest", "prod-latest", "prod-local-id"],
)
def test_bad_image_ref_stops_the_real_program_before_any_resource(stack: str, ref: str, message: str) -> None:
    error, registered = run_failing_program(stack, overrides={"imageRef": ref})
    assert isinstance(error, SettingsError)
    assert error.problems == [f"imageRef = {ref!r} {message}"]
    assert registered == []
