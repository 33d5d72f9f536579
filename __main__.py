"""microservice-model: build the image, migrate the database, deploy the app (`pulumi up -s test|prod`).

settings -> image ref -> deploy(target). See docs/pulumi.md. With `imageRef` set, nothing is built:
that earlier image, pinned by digest, is migrated and deployed (a rollback).
"""

import pulumi

from components import docker, kubernetes
from components.image import image_ref
from components.settings import load_settings

settings = load_settings()  # validates every key before any resource exists
if settings.target == "docker":
    engine = docker.engine(settings)  # builds the image and runs the container
    ref = image_ref(settings, lambda: engine)
    docker.deploy(settings, ref, engine)
else:
    # Docker only builds here, so rolling back to a pinned image needs no Docker engine at all.
    ref = image_ref(settings, lambda: docker.engine(settings))
    kubernetes.deploy(settings, ref)
pulumi.export("imageDigest", ref)
pulumi.export("target", settings.target)
pulumi.export("runtimeEnv", settings.runtime_env)
