"""How the harness carries out an image build, a network, a volume and a local command on the engine.

A mixin of `DockerEngineMocks` (mocks.py): each method takes the declared resource and the state of the
previous run, and returns (id, outputs, action) as the provider would report them.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import docker
import docker.errors
from pulumi.runtime.mocks import MockResourceArgs

from tests.support.docker_engine import buildkit
from tests.support.docker_engine.declared import HARNESS_LABEL, Declared, HarnessError


class EngineResources:
    program_dir: Path
    run_label: str
    build_no_cache: bool
    built_images: list[dict[str, str]]
    _lock: threading.Lock

    def client(self) -> docker.DockerClient:
        return docker.from_env(timeout=300)

    def image(self, args: MockResourceArgs, reg: Any, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"Image {args.name}", args.inputs)
        image_name = declared.require("imageName")
        if declared.get("skipPush") is not True:
            raise HarnessError(f"Image {args.name}: only local images (skip_push=True) can be built here")
        declared.get("buildOnPreview")  # a preview option; this is an update
        build = declared.block("build") or Declared(f"Image {args.name}.build", {})
        context_arg = build.get("context", ".")
        context = self.program_dir / context_arg
        # Both are relative to the program directory, as in pulumi-docker.
        dockerfile = self.program_dir / build.get("dockerfile", f"{context_arg}/Dockerfile")
        buildargs = build.get("args", {})
        target = build.get("target")
        platform = build.get("platform")
        builder = build.get("builderVersion", buildkit.BUILDKIT)  # the provider's default: BuildKit
        build.done()
        declared.done()

        # The Docker SDK wants the Dockerfile relative to the context when it lies inside it.
        dockerfile_arg = str(dockerfile.resolve())
        if dockerfile.resolve().is_relative_to(context.resolve()):
            dockerfile_arg = str(dockerfile.resolve().relative_to(context.resolve()))
        elif builder == buildkit.BUILDKIT:
            raise HarnessError(f"Image {args.name}: with BuildKit the Dockerfile must lie in the context")
        try:
            image_id = buildkit.build(
                self.client().api,
                context,
                dockerfile_arg,
                builder,
                tag=image_name,
                buildargs=buildargs,
                target=target,
                platform=platform,
                nocache=self.build_no_cache,
            )
        except buildkit.BuildFailed as failed:
            raise HarnessError(f"Image {args.name} ({builder}): {failed}") from failed
        with self._lock:
            self.built_images.append({"name": image_name, "id": image_id})
        # As pulumi-docker does for skip_push: repoDigest is the local image ID, the id is the name.
        outputs = {
            **args.inputs,
            "dockerfile": dockerfile_arg,
            "context": context_arg,
            "baseImageName": image_name,
            "imageName": image_name,
            "registryServer": "",
            "platform": platform or "",
            "repoDigest": image_id,
        }
        unchanged = prev is not None and prev["outputs"].get("repoDigest") == image_id
        return image_name, outputs, "same" if unchanged else ("update" if prev else "create")

    # --- network and volume ------------------------------------------------------------------------

    def network(self, args: MockResourceArgs, reg: Any, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"Network {args.name}", args.inputs)
        name = declared.require("name")
        labels = {b.require("label"): b.require("value") for b in declared.blocks("labels")}
        driver = declared.get("driver", "bridge")
        internal = declared.get("internal", False)
        attachable = declared.get("attachable", False)
        options = declared.get("options", {})
        declared.done()
        if prev is not None:
            self.require_unchanged(args, prev)
            return prev["id"], prev["outputs"], "same"
        network = self.client().networks.create(
            name,
            driver=driver,
            internal=internal,
            attachable=attachable,
            options=options,
            labels={**labels, HARNESS_LABEL: self.run_label},
            check_duplicate=True,
        )
        network.reload()
        # As the provider reads it back: the subnet and gateway the engine chose (ipam_config is computed).
        ipam = [
            {"subnet": c.get("Subnet", ""), "gateway": c.get("Gateway", ""), "ipRange": c.get("IPRange", "")}
            for c in (network.attrs.get("IPAM") or {}).get("Config") or []
        ]
        return network.id, {**args.inputs, "name": name, "driver": driver, "ipamConfigs": ipam}, "create"

    def volume(self, args: MockResourceArgs, reg: Any, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"Volume {args.name}", args.inputs)
        name = declared.require("name")
        labels = {b.require("label"): b.require("value") for b in declared.blocks("labels")}
        driver = declared.get("driver", "local")
        driver_opts = declared.get("driverOpts", {})
        declared.done()
        if prev is not None:
            self.require_unchanged(args, prev)
            return prev["id"], prev["outputs"], "same"
        client = self.client()
        try:
            client.volumes.get(name)
        except docker.errors.NotFound:
            pass
        else:
            # Docker, and so the provider, would adopt it with its data (how a volume kept by
            # retain_on_delete comes back). The harness refuses: a test must not run on leftover data.
            raise HarnessError(
                f"Volume {args.name}: a volume named {name!r} already exists on the engine (left over "
                "from an earlier run?); the harness only uses volumes it created"
            )
        volume = client.volumes.create(
            name, driver=driver, driver_opts=driver_opts, labels={**labels, HARNESS_LABEL: self.run_label}
        )
        return volume.name, {**args.inputs, "name": volume.name, "driver": driver}, "create"

    @staticmethod
    def require_unchanged(args: MockResourceArgs, prev: dict[str, Any]) -> None:
        if prev["inputs"] != args.inputs:
            raise HarnessError(
                f"{args.typ} {args.name}: changing it in place is not supported by the harness"
            )

    # --- command ---------------------------------------------------------------------------------

    def command(self, args: MockResourceArgs, reg: Any, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"Command {args.name}", args.inputs)
        create = declared.require("create")
        environment = declared.get("environment", {})
        directory = self.program_dir / declared.get("dir", ".")
        interpreter = declared.get("interpreter", ["/bin/sh", "-c"])
        declared.get("triggers")  # only feeds the diff below
        declared.get("addPreviousOutputInEnv")  # only matters for update/delete, which are not declared
        declared.get("logging")  # what the real provider echoes to the console
        declared.done()
        if prev is not None and prev["inputs"] == args.inputs:
            return prev["id"], prev["outputs"], "same"
        # Like pulumi-command: the host environment plus the declared one, run by the interpreter.
        result = subprocess.run(
            [*interpreter, create],
            cwd=directory,
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise HarnessError(
                f"Command {args.name} failed: exit status {result.returncode}: running {create!r}:\n"
                f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"
            )
        outputs = {**args.inputs, "stdout": result.stdout.rstrip("\n"), "stderr": result.stderr.rstrip("\n")}
        return f"{args.name}-{uuid.uuid4().hex[:8]}", outputs, "replace" if prev else "create"

    # --- container -------------------------------------------------------------------------------
