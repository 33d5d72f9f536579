"""Rule: no secret-looking value in plaintext where a policy can tell.

A variable is secret-looking when its name says so (…SECRET…, …PASSWORD…, …PASSWD…, …TOKEN,
…API_KEY, …PRIVATE_KEY) or its value is a URL with a password in it (DATABASE_URL with
credentials). TOKEN_TTL_SECONDS is not secret: only a name that ENDS in TOKEN is.

- Kubernetes workloads: such a variable must come from valueFrom.secretKeyRef, never `value`.
- Local commands and Docker container command lines: no `NAME=value` for such a variable and no URL
  with a password; secrets reach a `docker run` through the process environment (`--env NAME`).

What a policy cannot tell: whether a Docker container's `envs` value or a command's `environment`
value is a Pulumi secret. pulumi-policy hands validations the plaintext of secrets with the secret
mark removed (pulumi/pulumi-policy#241), so those values are not judged here; the mocked-program
test (tests/policy/test_program_passes_pack.py) checks from the raw registrations that they are
Pulumi secrets.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from urllib.parse import urlsplit

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .resource_types import DOCKER_CONTAINER, K8S_WORKLOADS, LOCAL_COMMAND
from .workloads import containers

NAME_PARTS = ("SECRET", "PASSWORD", "PASSWD")
NAME_ENDINGS = ("TOKEN", "API_KEY", "PRIVATE_KEY")
ASSIGNMENT = re.compile(r"^-?-?(?:e(?:nv)?=?)?([A-Za-z_][A-Za-z0-9_]*)=(.+)$")
COMMAND_PROPS = ("create", "update", "delete")
HINT_COMMAND = "pass secrets through the environment (`docker run --env NAME`), never on the command line"


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


def plaintext_in_words(words: Iterable[str]) -> list[str]:
    """What a command line reveals: secret-looking NAME=value assignments and URLs with passwords."""
    found: list[str] = []
    for word in words:
        match = ASSIGNMENT.match(word)
        if match and looks_secret(match.group(1), match.group(2)):
            found.append(match.group(1))
        elif not match and url_has_password(word):
            found.append("a URL with a password")
    return found


def _split(command_line: str) -> list[str]:
    try:
        return shlex.split(command_line)
    except ValueError:  # unbalanced quotes: fall back to whitespace words
        return command_line.split()


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == LOCAL_COMMAND:
        for prop in COMMAND_PROPS:
            found = plaintext_in_words(_split(str(args.props.get(prop) or "")))
            if found:
                report_violation(
                    f"Command '{args.name}' puts {', '.join(found)} in plaintext on its '{prop}' "
                    f"command line: {HINT_COMMAND}.",
                    None,
                )
    elif args.resource_type == DOCKER_CONTAINER:
        for prop in ("command", "entrypoint"):
            found = plaintext_in_words(str(word) for word in args.props.get(prop) or [])
            if found:
                report_violation(
                    f"Docker container '{args.name}' puts {', '.join(found)} in plaintext in its "
                    f"'{prop}': set it in 'envs' from a Pulumi secret.",
                    None,
                )
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
    description="Secret-looking values come from Pulumi secrets or Kubernetes Secret references.",
    validate=validate,
)
