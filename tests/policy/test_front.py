"""front-owns-the-public-face: behind a front proxy container, the app containers publish no host port."""

from __future__ import annotations

from components.contract import API_COMPONENT, COMPONENT_LABEL
from policy.microservice_policies.front import front_owns_the_public_face
from tests.support.policy import check_stack, docker_container, policy_resource, resource_urn
from tests.support.resource_types import CONTAINER


def labelled(role: str, **overrides: object) -> dict[str, object]:
    return docker_container(labels=[{"label": COMPONENT_LABEL, "value": role}], **overrides)


def test_front_publishing_and_unpublished_app_containers_pass() -> None:
    front = policy_resource(CONTAINER, "front-container", labelled("front"))
    app = policy_resource(CONTAINER, "api-container", labelled(API_COMPONENT, ports=[]))
    assert check_stack(front_owns_the_public_face, [front, app]) == []


def test_an_app_container_published_next_to_the_front_is_refused() -> None:
    front = policy_resource(CONTAINER, "front-container", labelled("front"))
    app = policy_resource(CONTAINER, "api-container", labelled(API_COMPONENT))
    assert check_stack(front_owns_the_public_face, [front, app]) == [
        (
            "Docker container 'api-container' publishes host ports behind a front proxy: only the front "
            "publishes; the app containers are reached on the private network under its alias.",
            resource_urn(CONTAINER, "api-container"),
        )
    ]


def test_without_a_front_the_published_app_container_passes() -> None:
    app = policy_resource(CONTAINER, "api-container", labelled(API_COMPONENT))
    assert check_stack(front_owns_the_public_face, [app]) == []
