"""Rule: no secret in a container's environment, and none in plaintext where a policy can tell.

A variable is secret-looking when its name says so (…SECRET…, …PASSWORD…, …PASSWD…, …TOKEN,
…API_KEY, …PRIVATE_KEY, …ENCRYPTION_KEY) or its value is a URL with a password in it (DATABASE_URL
with credentials). TOKEN_TTL_SECONDS is not secret: only a name that ENDS in TOKEN is; nor is a
`NAME_FILE` variable, which holds the path of the file the secret is in (the service reads those, issue 13).

- Kubernetes workloads: secrets are files (a Secret volume) the service finds through `NAME_FILE`; a
  secret-looking `value`, any `valueFrom.secretKeyRef` and any `envFrom.secretRef` are refused (the
  environment leaks to child processes, crash dumps and `kubectl describe`-style tooling).
- Docker containers: no such variable in `envs` either; secrets are files (`uploads`) found through
  `NAME_FILE`, the same on both targets.
- Local commands and Docker container command lines: no `NAME=value` for such a variable and no URL
  with a password; secrets reach a command through its process environment.

What a policy cannot tell: whether a Docker upload's content or a command's `environment`
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
from .workloads import containers, docker_env

NAME_PARTS = ("SECRET", "PASSWORD", "PASSWD")
NAME_ENDINGS = ("TOKEN", "API_KEY", "PRIVATE_KEY", "ENCRYPTION_KEY")
FILE_SUFFIX = "_FILE"
HINT_FILE = "mount the Secret as a read-only volume and point the service at the file with {name}_FILE"
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
    if upper.endswith(FILE_SUFFIX):
        return url_has_password(value)  # a path to the secret, not the secret
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
        for name, value in docker_env(args.props.get("envs")).items():
            if looks_secret(name, value):
                report_violation(
                    f"Docker container '{args.name}' puts {name} into its environment: upload it as a file "
                    f"(`uploads`, mode 0400, owned by the app user) and set {name}_FILE to its path.",
                    None,
                )
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
                        f"{container.label} sets {name} as a plaintext value: {HINT_FILE.format(name=name)}.",
                        None,
                    )
                elif (env.get("valueFrom") or {}).get("secretKeyRef"):
                    report_violation(
                        f"{container.label} puts a Secret into its environment as {name}: "
                        f"{HINT_FILE.format(name=name)}.",
                        None,
                    )
            for source in container.spec.get("envFrom") or []:
                if source.get("secretRef"):
                    secret = (source["secretRef"] or {}).get("name") or "?"
                    report_violation(
                        f"{container.label} puts every key of Secret '{secret}' into its environment "
                        "(envFrom.secretRef): mount the Secret as a read-only volume and set NAME_FILE "
                        "for each secret instead.",
                        None,
                    )


no_plaintext_secrets = ResourceValidationPolicy(
    name="no-plaintext-secret-env",
    description="Secrets reach containers as files (NAME_FILE), never in their environment or in plaintext.",
    validate=validate,
)
