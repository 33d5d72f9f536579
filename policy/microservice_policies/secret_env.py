"""Rule: no secret-looking environment value in plaintext.

A variable is secret-looking when its name says so (…SECRET…, …PASSWORD…, …PASSWD…, …TOKEN,
…API_KEY, …PRIVATE_KEY) or its value is a URL with a password in it (DATABASE_URL with
credentials). TOKEN_TTL_SECONDS is not secret: only a name that ENDS in TOKEN is.

Kubernetes: such a variable must come from valueFrom.secretKeyRef, never `value`.

Docker container / local command: their env can only be a value. pulumi-policy hands a policy the
plaintext of Pulumi secrets with the secret mark removed (pulumi/pulumi-policy#241), so whether the
value is a Pulumi secret cannot be read. What a policy can read is the resource option
`additional_secret_outputs`: the rule requires `envs` (container) or `environment` (command) to be
listed there, so the engine stores that property encrypted whatever the program passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .types import DOCKER_CONTAINER, K8S_WORKLOADS, LOCAL_COMMAND
from .workloads import containers, docker_env

NAME_PARTS = ("SECRET", "PASSWORD", "PASSWD")
NAME_ENDINGS = ("TOKEN", "API_KEY", "PRIVATE_KEY")


def url_has_password(value: object) -> bool:
    if not isinstance(value, str) or "://" not in value:
        return False
    try:
        return bool(urlsplit(value).password)
    except ValueError:  # not a parseable URL: nothing to say about it
        return False


def looks_secret(name: str, value: object) -> bool:
    upper = name.upper()
    by_name = any(part in upper for part in NAME_PARTS) or upper.endswith(NAME_ENDINGS)
    return by_name or url_has_password(value)


def secret_names(env: Mapping[str, Any]) -> list[str]:
    """Names of secret-looking variables that carry a non-empty value."""
    return sorted(name for name, value in env.items() if value and looks_secret(name, value))


def _require_secret_output(
    args: ResourceValidationArgs,
    report_violation: ReportViolation,
    what: str,
    prop: str,
    names: Iterable[str],
) -> None:
    listed = sorted(names)
    if listed and prop not in (args.opts.additional_secret_outputs or []):
        report_violation(
            f"{what} '{args.name}' sets {', '.join(listed)} in '{prop}', which is not marked secret: pass "
            f"Pulumi secrets and add additional_secret_outputs=['{prop}'] so the value is never "
            "stored in plaintext.",
            None,
        )


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == DOCKER_CONTAINER:
        names = secret_names(docker_env(args.props.get("envs")))
        _require_secret_output(args, report_violation, "Docker container", "envs", names)
    elif args.resource_type == LOCAL_COMMAND:
        names = secret_names(dict(args.props.get("environment") or {}))
        _require_secret_output(args, report_violation, "Command", "environment", names)
    elif args.resource_type in K8S_WORKLOADS:
        for container in containers(args.resource_type, args.name, args.props):
            for env in container.spec.get("env") or []:
                name = str(env.get("name") or "")
                value = env.get("value")
                if value and looks_secret(name, value):
                    report_violation(
                        f"{container.label} sets {name} as a plaintext value: read it from a "
                        "Kubernetes Secret with valueFrom.secretKeyRef.",
                        None,
                    )


no_plaintext_secrets = ResourceValidationPolicy(
    name="no-plaintext-secret-env",
    description="Secret-looking environment values are Pulumi secrets or Kubernetes Secret references.",
    validate=validate,
)
