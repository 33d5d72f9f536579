"""The microservice-model policy pack: one small module per rule.

contract.py here is a symlink to components/contract.py: Pulumi runs a pack with only policy/ on its
path, so the pack reads the image contract (UID, ports, probes, migration command) through the link
instead of repeating its numbers. The file is standard-library only, so the pack needs nothing more.
"""

from .exposure import exposure
from .front import front_owns_the_public_face
from .images import images_by_digest
from .k8s_runtime import no_service_account_token, probes, resource_limits
from .migration_order import migration_before_service
from .non_root import run_as_non_root
from .secret_env import no_plaintext_secrets

PACK_NAME = "microservice-model-policies"

POLICIES = [
    images_by_digest,
    run_as_non_root,
    resource_limits,
    probes,
    no_service_account_token,
    no_plaintext_secrets,
    exposure,
    migration_before_service,
    front_owns_the_public_face,
]

__all__ = ["PACK_NAME", "POLICIES"]
