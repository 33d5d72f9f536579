"""Drive the policy pack (policy/) as Pulumi does, two ways.

- In process: the rules' own `validate` with real ResourceValidationArgs / StackValidationArgs, props
  wrapped in pulumi-policy's unknown-checking proxy, violations collected (`check_resource`,
  `check_stack`), plus resources that pass every rule, to break one field at a time.
- As a process: the pack started as the Pulumi CLI starts it (it prints its gRPC port), spoken to with
  the engine's own Analyzer messages (`running_pack`).

About 250 lines: the two halves share the fixture values and are always used together.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from components.contract import (
    APP_UID,
    CONTAINER_NAME,
    LIVENESS_PATH,
    PROJECT,
    PUBLIC_PORT,
    READINESS_PATH,
    SERVICE_PORT,
)
from tests.support.stack_config import REPO_ROOT

POLICY_DIR = REPO_ROOT / "policy"
DIGEST = "sha256:" + "a" * 64
IMAGE = f"registry.example/{CONTAINER_NAME}@{DIGEST}"


def resource_urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:test::{PROJECT}::{resource_type}::{name}"


def options(additional_secret_outputs: Sequence[str] = ()) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(additional_secret_outputs),
    )


def check_resource(
    policy: Policy,
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "web",
    config: Mapping[str, Any] | None = None,
) -> list[str]:
    """Run one resource policy on one resource; return the violation messages in order."""
    assert isinstance(policy, ResourceValidationPolicy)
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(dict(props)),
        resource_urn(resource_type, name),
        name,
        options(),
        None,
        config,
    )
    messages: list[str] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        messages.append(message)

    policy.validate(args, report_violation)
    return messages


def policy_resource(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    dependencies: Sequence[PolicyResource] = (),
    property_dependencies: Mapping[str, list[PolicyResource]] | None = None,
) -> PolicyResource:
    return PolicyResource(
        resource_type,
        unknown_checking_proxy(dict(props)),
        resource_urn(resource_type, name),
        name,
        options(),
        None,
        None,
        list(dependencies),
        dict(property_dependencies or {}),
    )


def check_stack(policy: Policy, resources: Sequence[PolicyResource]) -> list[tuple[str, str | None]]:
    """Run one stack policy; return (message, urn) pairs in order."""
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple[str, str | None]] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        found.append((message, urn))

    policy.validate(StackValidationArgs(list(resources)), report_violation)
    return found


def k8s_container(**overrides: Any) -> dict[str, Any]:
    """A container that passes every rule; override fields to break one."""
    container: dict[str, Any] = {
        "name": "api",
        "image": IMAGE,
        "ports": [{"containerPort": SERVICE_PORT}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": APP_UID},
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": READINESS_PATH, "port": SERVICE_PORT}},
        "livenessProbe": {"httpGet": {"path": LIVENESS_PATH, "port": SERVICE_PORT}},
        "env": [
            {"name": "RUNTIME_ENV", "value": "prod"},
            {"name": "TOKEN_TTL_SECONDS", "value": "3600"},
            {"name": "SECRET_KEY_FILE", "value": "/run/secrets/secret_key"},
        ],
    }
    container.update(overrides)
    return container


def deployment(*containers: dict[str, Any], pod_security: dict[str, Any] | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "containers": list(containers) or [k8s_container()],
    }
    if pod_security is not None:
        pod["securityContext"] = pod_security
    return {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": pod}}}


def job(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {
            "template": {"spec": {"automountServiceAccountToken": False, "containers": list(containers)}}
        },
    }


def docker_container(**overrides: Any) -> dict[str, Any]:
    """Docker container inputs that pass every rule (as the engine names them)."""
    props: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": DIGEST,
        "user": f"{APP_UID}:{APP_UID}",
        "ports": [{"internal": SERVICE_PORT, "external": PUBLIC_PORT, "ip": "127.0.0.1", "protocol": "tcp"}],
        "envs": ["RUNTIME_ENV=test", "SECRET_KEY_FILE=/run/secrets/secret_key"],
    }
    props.update(overrides)
    return props


# --- the pack as a process ---------------------------------------------------------------------

SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def secret(value: Any) -> dict[str, Any]:
    """A value as the engine sends a Pulumi secret to an analyzer (KeepSecrets)."""
    return {**SECRET_SIG, "value": value}


def struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(json.loads(json.dumps(props)))
    return result


@dataclass
class PackProcess:
    stub: analyzer_pb2_grpc.AnalyzerStub

    def info(self) -> Any:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, policy_config: Mapping[str, Mapping[str, Any]]) -> None:
        request = proto.ConfigureAnalyzerRequest()
        for name, properties in policy_config.items():
            request.policyConfig[name].enforcementLevel = proto.MANDATORY
            request.policyConfig[name].properties.update(dict(properties))
        self.stub.Configure(request)

    def analyze(
        self,
        resource_type: str,
        name: str,
        props: Mapping[str, Any],
        *,
        urn: str = "",
        additional_secret_outputs: tuple[str, ...] = (),
    ) -> list[Any]:
        request = proto.AnalyzeRequest(
            type=resource_type,
            name=name,
            urn=urn or resource_urn(resource_type, name),
            properties=struct(props),
            options=proto.AnalyzerResourceOptions(additionalSecretOutputs=list(additional_secret_outputs)),
        )
        return list(self.stub.Analyze(request).diagnostics)

    def analyze_stack(self, resources: list[Any]) -> list[Any]:
        return list(self.stub.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources)).diagnostics)


@contextmanager
def running_pack(stack: str) -> Iterator[PackProcess]:
    """Run the pack with the environment the engine gives an analyzer (PULUMI_PROJECT/STACK/DRY_RUN)."""
    env = {
        **os.environ,
        "PULUMI_PROJECT": PROJECT,
        "PULUMI_STACK": stack,
        "PULUMI_DRY_RUN": "true",
    }
    # The Python language host starts a policy pack as `python -u -m pulumi.policy <engine> <pack dir>`.
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(POLICY_DIR)],
        cwd=POLICY_DIR.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            process.kill()
            raise AssertionError(
                f"policy pack did not print its port: {line!r} {process.communicate()[1][-2000:]}"
            )
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield PackProcess(analyzer_pb2_grpc.AnalyzerStub(channel))
    finally:
        process.kill()
        process.wait(timeout=30)
