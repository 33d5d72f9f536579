"""Rule: every container image is referenced by digest, never by a tag such as ':latest'.

A tag can move under a running deploy; a digest cannot, so a rebuild really rolls out and a
rollback really goes back. At preview time an image that comes from the build is still unknown:
pulumi-policy then reports "can't run policy during preview" (advisory) and the rule runs for real
on `pulumi up`, when the digest is known.
"""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .resource_types import DOCKER_CONTAINER, K8S_WORKLOADS
from .workloads import containers

# name@sha256:<hex> (a repo digest) or sha256:<hex> (a local image ID): both are content addresses.
DIGEST_REFERENCE = re.compile(r"(?:[^@\s]+@)?sha256:[0-9a-f]{64}")


def digest_problem(image: object) -> str | None:
    """Why `image` is not a digest reference, or None when it is one."""
    if not isinstance(image, str) or not image:
        return "has no image"
    if DIGEST_REFERENCE.fullmatch(image):
        return None
    if image.endswith(":latest"):
        return f"uses '{image}': ':latest' is never allowed"
    return f"uses '{image}', which is not pinned by digest"


HINT = "reference the image by digest (name@sha256:<64 hex>, e.g. the docker.Image repo_digest)"


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == DOCKER_CONTAINER:
        problem = digest_problem(args.props.get("image"))
        if problem:
            report_violation(f"Docker container '{args.name}' {problem}: {HINT}.", None)
    elif args.resource_type in K8S_WORKLOADS:
        for container in containers(args.resource_type, args.name, args.props):
            problem = digest_problem(container.spec.get("image"))
            if problem:
                report_violation(f"{container.label} {problem}: {HINT}.", None)


images_by_digest = ResourceValidationPolicy(
    name="images-by-digest",
    description="Container images are referenced by digest, never by a tag such as ':latest'.",
    validate=validate,
)
