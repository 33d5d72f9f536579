"""The image contract (docs/contract.md) as Python: the facts the service, its image, the deploy and the
policy pack meet at. Change one in docs/contract.md first, then here; every module reads it from here.

Standard library only, and no imports from the program: the policy pack (policy/) loads this very file
through the symlink policy/microservice_policies/contract.py, because Pulumi runs a pack with only its
own directory on the path, and a symlink shares one file without any sys.path edit.
"""

from __future__ import annotations

PROJECT = "microservice-model"  # the Pulumi project, the Deployment/Service name, the resource prefix

# The image
APP_UID = 10001  # the image's `app` user (and group): everything writable belongs to it
SERVICE_PORT = 8000  # gunicorn inside the image (EXPOSE 8000)
METRICS_PORT = 9464  # Prometheus /metrics of all workers (METRICS_PORT); never published, never in a Service
METRICS_PATH = "/metrics"
LOG_MOUNT = "/app/logs"  # LOG_DIR: access.log and app.log
DATA_MOUNT = "/app/data"  # DATA_DIR: the embedded SQLite database
HEALTHCHECK = ("python", "/app/healthcheck.py")  # the image's HEALTHCHECK command
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")  # LOG_LEVEL values
# The proxies in front of the serving containers, both set to the same networks: gunicorn believes
# their X-Forwarded-Proto, the service their X-Forwarded-For last hop and X-Request-ID (docs/contract.md).
# In this order: the docker target hashes its env into the app container's name.
PROXY_TRUST_VARIABLES = ("FORWARDED_ALLOW_IPS", "TRUSTED_PROXIES")

# Secrets: files in this directory, one per secret variable, named after it in lowercase
# (SECRET_KEY -> /run/secrets/secret_key); the service reads VAR_FILE=<path> (docs/contract.md).
SECRETS_DIR = "/run/secrets"


def secret_file_path(variable: str) -> str:
    return f"{SECRETS_DIR}/{variable.lower()}"


# HTTP
READINESS_PATH = "/readyz"  # 200 when the database answers at the migration head, else 503
LIVENESS_PATH = "/healthz"  # 200 while the process is alive

# Commands inside the image (cwd /app)
MIGRATION_COMMAND = ("flask", "db", "upgrade")  # idempotent

# The deploy
CONTAINER_NAME = "microservice.model"  # the docker target's container (the old `--name microservice.model`)
PUBLIC_PORT = 8083  # the old deploy's published port: docker host port, Kubernetes Service port
COMPONENT_LABEL = "app.kubernetes.io/component"  # its value says what a container is for:
API_COMPONENT = "api"  # the serving container / pods
MIGRATION_COMPONENT = "migration"  # the one-shot `flask db upgrade`
LOG_DIR_COMPONENT = "log-dir"  # the one-shot chown of the docker target's host log dir
