"""The migration on the kubernetes target: a Job per image that the Deployment waits for."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contract import COMPONENT_LABEL, MIGRATION_COMMAND, MIGRATION_COMPONENT, PROJECT
from components.kubernetes import pod
from components.outputs import public_outputs
from components.settings import KubernetesSettings

JOB_DEADLINE_SECONDS = 600
# The provider's own Job await gives up after 10 min by default, so without this a slow Job that is
# still inside its deadline would fail `pulumi up`: wait past the deadline, when Kubernetes has
# settled the Job one way or the other (pulumi-kubernetes await logic: Job, customTimeouts).
JOB_AWAIT = f"{JOB_DEADLINE_SECONDS // 60 + 5}m"
# A Job that failed stays in the state as "failed to initialise"; on the next `pulumi up` with the same
# image the provider would only await that same failed Job again. With this annotation it deletes
# and recreates it (same name, so the provider deletes first), so a retry after fixing the cause
# re-runs the migration (pulumi-kubernetes: metadata.annotations "pulumi.com/replaceUnready").
REPLACE_UNREADY = {"pulumi.com/replaceUnready": "true"}


def job_name(image_ref: str) -> str:
    """`microservice-model-migrate-<first 12 hex of the digest>`: a new image is a new Job."""
    digest = image_ref.rsplit("sha256:", 1)[-1]
    return f"{PROJECT}-migrate-{digest[:12]}"


@dataclass(frozen=True, kw_only=True)
class KubernetesMigrationArgs:
    settings: KubernetesSettings
    image_ref: pulumi.Output[str]
    env: pod.PodEnv
    labels: dict[str, str]


class KubernetesMigration(pulumi.ComponentResource):
    """`flask db upgrade` in the new image, as a Job named after the image digest.

    The Kubernetes provider waits for a Job to succeed and fails the update when it fails, so the
    Deployment, which depends on it, is not touched and the running pods keep serving. A new digest
    is a new name, so the Job runs once per image, and the previous (good) Job stays until the new one
    succeeded: no delete_before_replace, so a failed migration leaves the last good Job and its logs
    next to the failed one. A replacement under the same name (a config-only change, a retry) is
    deleted first by the provider itself, whose diff asks for it when the name does not change
    (docs/engine.md, finding 6, tried on a real API server). A failed Job is replaced by the next
    `pulumi up` (REPLACE_UNREADY), and `pulumi up` awaits it for longer than its deadline (JOB_AWAIT).
    """

    job: k8s.batch.v1.Job
    job_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: KubernetesMigrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservice-model:index:KubernetesMigration", name, None, opts)
        labels = {**args.labels, COMPONENT_LABEL: MIGRATION_COMPONENT}
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.image_ref.apply(job_name),
                namespace=args.env.namespace,
                labels=labels,
                annotations=REPLACE_UNREADY,
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=1,
                active_deadline_seconds=JOB_DEADLINE_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=pod.pod_spec(
                        args.env,
                        restart_policy="Never",
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="migrate",
                                image=args.image_ref,
                                command=list(MIGRATION_COMMAND),
                                env_from=pod.env_from(args.env),
                                resources=pod.resources(args.settings),
                                security_context=pod.container_security(),
                                volume_mounts=pod.volume_mounts(),
                            )
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                custom_timeouts=pulumi.CustomTimeouts(create=JOB_AWAIT, update=JOB_AWAIT),
            ),
        )
        self.job_name = self.job.metadata.name
        self.register_outputs(public_outputs(self))
