"""Start the policy pack as the Pulumi CLI does (a process that prints its gRPC port) and talk to
it over gRPC with the engine's own Analyzer messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
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
            urn=urn or f"urn:pulumi:test::microservice-model::{resource_type}::{name}",
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
        "PULUMI_PROJECT": "microservice-model",
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
