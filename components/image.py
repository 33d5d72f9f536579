"""The service image: built from app/ and referenced downstream only by its digest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.outputs import public_outputs
from components.settings import ImageSettings, Settings

BUILD_CONTEXT = "app"
DOCKERFILE = "app/Dockerfile"  # pulumi-docker resolves it against the program directory, not the context

# BuildKit, said explicitly (it is also the provider's default when `builder_version` is unset): it is
# the maintained builder (the classic one is deprecated since Docker 23), it builds only the stages the
# target needs and independent stages in parallel, and the provider drives the daemon's built-in
# BuildKit over the API with its own session, so no buildx CLI plugin is needed on the Docker host
# (Docker >= 18.09; the Debian docker.io 20.10 engine here has it). app/Dockerfile uses only syntax
# both builders understand: tests/image/test_builders.py builds it with each.
BUILDER = docker.BuilderVersion.BUILDER_BUILD_KIT


@dataclass(frozen=True, kw_only=True)
class ServiceImageArgs:
    settings: ImageSettings
    registry_password: pulumi.Output[str] | None


class ServiceImage(pulumi.ComponentResource):
    """Builds the image; on the kubernetes target also pushes it.

    `ref` is the one reference everything downstream uses. It is `repo_digest`: for a pushed
    image `repository@sha256:<manifest digest>`; for a local-only image (skip_push) the
    provider (>= 4.4) reports the local image ID `sha256:<config digest>`. Both are content
    addresses, so a rebuild with any change yields a new ref and rolls out; a tag would not.
    """

    ref: pulumi.Output[str]
    image_name: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("microservice-model:index:ServiceImage", name, None, opts)
        image = args.settings
        registry = None
        if image.push and image.registry_server:
            registry = docker.RegistryArgs(
                server=image.registry_server,
                username=image.registry_username,
                password=args.registry_password,
            )
        built = docker.Image(
            f"{name}-build",
            image_name=f"{image.repository}:{image.tag}",
            build=docker.DockerBuildArgs(
                context=BUILD_CONTEXT,
                dockerfile=DOCKERFILE,
                # VERSION: what /version and service_build_info report (the image's digest comes
                # at deploy time, as IMAGE_REF: a build cannot know its own digest).
                args={
                    "BASE_IMAGE": image.base_image,
                    "PIP_INDEX_URL": image.pip_index_url,
                    "VERSION": image.tag,
                },
                # Empty is NOT the engine's platform: the provider then builds for the OS/arch of the
                # machine running Pulumi (GOOS/GOARCH, pulumi-docker's DockerBuild.platform). Settings
                # require it wherever those can differ (a remote dockerHost, the kubernetes target).
                platform=image.platform,
                target=image.build_target,
                builder_version=BUILDER,
            ),
            skip_push=not image.push,
            registry=registry,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ref = built.repo_digest
        self.image_name = built.image_name
        self.register_outputs(public_outputs(self))


def image_ref(settings: Settings, engine: Callable[[], docker.Provider]) -> pulumi.Output[str]:
    """The image every target deploys: `imageRef` as it is (a rollback, nothing built, no engine
    needed), else app/ built on `engine()` (and pushed on kubernetes): its digest reference."""
    if settings.image.pinned_ref:
        return pulumi.Output.from_input(settings.image.pinned_ref)
    image = ServiceImage(
        "image",
        ServiceImageArgs(settings=settings.image, registry_password=settings.secrets.registry_password),
        opts=pulumi.ResourceOptions(providers=[engine()]),
    )
    return image.ref
