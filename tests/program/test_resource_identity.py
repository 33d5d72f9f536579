"""What a deployed stack keeps across program changes: resource URNs (through aliases) and the outputs
each component registers.

A URN is what the engine matches a declared resource to its state by: a new one means "create the new,
delete the old", i.e. a replaced container or Deployment on a live stack. DockerService/KubernetesService
(resource "service") became DockerApi/KubernetesApi ("api"); their aliases name the old type and
name, and the engine carries an alias down to children whose names start with the parent's name.
"""

from __future__ import annotations

import pytest

from components.contract import PROJECT
from tests.support.pulumi_mocks import ProgramRun, Registration, run_program
from tests.support.resource_types import (
    DOCKER_API,
    DOCKER_FRONT,
    DOCKER_MIGRATION,
    DOCKER_RUNTIME,
    KUBERNETES_API,
    KUBERNETES_MIGRATION,
    KUBERNETES_NETWORK,
    KUBERNETES_RUNTIME,
    SERVICE_IMAGE,
)

STACK_TYPE = "pulumi:pulumi:Stack"
# Every URN each stack had before the restructure (`pulumi stack export` of a deployed stack lists these).
URNS_BEFORE = {
    "test": [
        "pulumi:pulumi:Stack$pulumi:providers:docker::docker",
        "pulumi:pulumi:Stack$microservice-model:index:ServiceImage::image",
        "pulumi:pulumi:Stack$microservice-model:index:DockerMigration::migration",
        "pulumi:pulumi:Stack$microservice-model:index:DockerRuntime::runtime",
        "microservice-model:index:ServiceImage$docker:index/image:Image::image-build",
        "microservice-model:index:DockerRuntime$docker:index/network:Network::runtime-network",
        "microservice-model:index:DockerRuntime$docker:index/volume:Volume::runtime-data",
        "pulumi:pulumi:Stack$microservice-model:index:DockerService::service",
        "microservice-model:index:DockerRuntime$command:local:Command::runtime-log-dir",
        "microservice-model:index:DockerMigration$command:local:Command::migration-upgrade",
        "microservice-model:index:DockerService$docker:index/container:Container::service-container",
    ],
    "prod": [
        "pulumi:pulumi:Stack$pulumi:providers:docker::docker",
        "pulumi:pulumi:Stack$microservice-model:index:ServiceImage::image",
        "pulumi:pulumi:Stack$pulumi:providers:kubernetes::kubernetes",
        "microservice-model:index:ServiceImage$docker:index/image:Image::image-build",
        "pulumi:pulumi:Stack$microservice-model:index:KubernetesRuntime::runtime",
        "pulumi:pulumi:Stack$microservice-model:index:KubernetesMigration::migration",
        "pulumi:pulumi:Stack$microservice-model:index:KubernetesService::service",
        "microservice-model:index:KubernetesRuntime$kubernetes:core/v1:Namespace::runtime-namespace",
        "microservice-model:index:KubernetesRuntime$kubernetes:core/v1:Secret::runtime-secret-env",
        "microservice-model:index:KubernetesRuntime$kubernetes:core/v1:Secret::runtime-pull-secret",
        "microservice-model:index:KubernetesService$kubernetes:core/v1:Service::service-service",
        "microservice-model:index:KubernetesService$kubernetes:policy/v1:PodDisruptionBudget::service-pdb",
        "microservice-model:index:KubernetesRuntime$kubernetes:core/v1:ConfigMap::runtime-env",
        "microservice-model:index:KubernetesMigration$kubernetes:batch/v1:Job::migration-job",
        "microservice-model:index:KubernetesService$kubernetes:apps/v1:Deployment::service-deployment",
    ],
}


# Resources added since (issue 13), which a deployed stack creates: nothing old stands for them.
ADDED_SINCE = {
    "test": [  # the docker target's front proxy (issue 13)
        "pulumi:pulumi:Stack$microservice-model:index:DockerFront::front",
        "microservice-model:index:DockerFront$docker:index/container:Container::front-container",
    ],
    "prod": [
        "pulumi:pulumi:Stack$microservice-model:index:KubernetesNetwork::network",
        "microservice-model:index:KubernetesNetwork$kubernetes:networking.k8s.io/v1:NetworkPolicy::network-policy",
    ],
}


def urn(stack: str, parent_type: str, type_: str, name: str) -> str:
    # The engine's URN: the parent's own type (not its whole chain), `$`, the resource's type.
    return f"urn:pulumi:{stack}::{PROJECT}::{parent_type}${type_}::{name}"


def matching_urns(run: ProgramRun, resource: Registration) -> set[str]:
    """Every URN in the old state the engine would match `resource` to: its own, or one an alias names.

    An alias (name/type) applies to the resource itself (providers add some for their own renamed
    types); a parent's alias applies to each child whose name starts with the parent's name, that
    prefix becoming the parent's old name.
    """
    parent = {r.urn: r for r in run.resources}.get(resource.parent)
    own = [(resource.name, resource.type)]
    own += [(alias["name"] or resource.name, alias["type"] or resource.type) for alias in resource.aliases]
    if parent is None:
        return {urn(run.stack, STACK_TYPE, type_, name) for name, type_ in own}
    found = set()
    for parent_urn in matching_urns(run, parent):
        parent_type = parent_urn.split("::")[2].rsplit("$", 1)[-1]
        parent_name = parent_urn.rsplit("::", 1)[-1]
        for name, type_ in own:
            found.add(urn(run.stack, parent_type, type_, name))
            if name.startswith(parent.name):
                found.add(urn(run.stack, parent_type, type_, parent_name + name[len(parent.name) :]))
    return found


@pytest.fixture(scope="module", params=["test", "prod"])
def stack_run(request: pytest.FixtureRequest) -> ProgramRun:
    return run_program(request.param)


def urns_before(stack: str) -> list[str]:
    return sorted(f"urn:pulumi:{stack}::{PROJECT}::{tail}" for tail in URNS_BEFORE[stack])


def test_every_resource_keeps_its_old_urn_or_names_it_in_an_alias(stack_run: ProgramRun) -> None:
    before = urns_before(stack_run.stack)
    added = {f"urn:pulumi:{stack_run.stack}::{PROJECT}::{tail}" for tail in ADDED_SINCE[stack_run.stack]}
    assert added <= {r.urn for r in stack_run.resources}
    matched = {
        r.urn: sorted(matching_urns(stack_run, r) & set(before))
        for r in stack_run.resources
        if r.urn not in added
    }
    # Each resource adopts exactly one old resource (none is created), and no old one is left to delete.
    assert {new: old for new, old in matched.items() if len(old) != 1} == {}
    assert sorted(old for [old] in matched.values()) == before


def test_the_renamed_components_carry_their_aliases(stack_run: ProgramRun) -> None:
    renamed = {r.type: r.aliases for r in stack_run.resources if not r.custom and r.aliases}
    if stack_run.stack == "test":
        old = "microservice-model:index:DockerService"
        assert renamed == {DOCKER_API: [{"name": "service", "type": old}]}
    else:
        old = "microservice-model:index:KubernetesService"
        assert renamed == {KUBERNETES_API: [{"name": "service", "type": old}]}
    api = stack_run.named("api")
    assert api.urn not in urns_before(stack_run.stack)  # the rename is real: without the alias, a replacement


def test_the_alias_check_can_fail() -> None:
    """Without its alias the renamed container would be a new resource: the check above sees that."""
    run = run_program("test")
    container = run.named("api-container")
    api = run.named("api")
    assert matching_urns(run, container) & set(urns_before("test"))
    api.aliases = []
    assert not matching_urns(run, container) & set(urns_before("test"))


EXPECTED_OUTPUTS = {
    SERVICE_IMAGE: ["image_name", "ref"],
    DOCKER_RUNTIME: ["log_dir_ready", "network_name", "network_subnet", "volume_name"],
    DOCKER_MIGRATION: ["command"],
    DOCKER_API: ["container_name"],
    DOCKER_FRONT: ["container_name"],
    KUBERNETES_RUNTIME: ["config_map_name", "namespace", "pull_secret_name", "secret_name"],
    KUBERNETES_MIGRATION: ["job", "job_name"],
    KUBERNETES_API: ["deployment_name", "service_name", "url"],
    KUBERNETES_NETWORK: [],
}


def test_each_component_registers_exactly_its_public_attributes(stack_run: ProgramRun) -> None:
    components = {r.type: r.output_keys for r in stack_run.resources if not r.custom}
    assert components == {type_: EXPECTED_OUTPUTS[type_] for type_ in components}
    # image, runtime, migration, api, and the front (test stack, frontProxy nginx) or the network (prod)
    assert len(components) == 5  # the front on the test stack
