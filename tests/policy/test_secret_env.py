"""no-plaintext-secret-env: secrets as files (no secret in a container's env); none on command lines."""

from __future__ import annotations

import pytest

from policy.microservice_policies.secret_env import looks_secret, no_plaintext_secrets
from tests.support.policy import check_resource, deployment, docker_container, job, k8s_container
from tests.support.resource_types import COMMAND, CONTAINER, DEPLOYMENT, JOB

SECRET_KEY_REF = {"secretKeyRef": {"name": "app", "key": "databaseUrl"}}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", "x"),
        ("DB_PASSWORD", "x"),
        ("ADMIN_PASSWD", "x"),
        ("GITHUB_TOKEN", "x"),
        ("STRIPE_API_KEY", "x"),
        ("KEY_ENCRYPTION_KEY", "x"),
        ("DATABASE_URL", "postgresql+psycopg://model:pw@db:5432/model"),
        ("UPSTREAM", "https://user:pw@example.invalid/"),
    ],
)
def test_secret_looking_names_and_urls_with_passwords(name: str, value: str) -> None:
    assert looks_secret(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOKEN_TTL_SECONDS", "3600"),
        ("DATABASE_URL", "sqlite:////app/data/service.db"),
        ("DATABASE_URL", "postgresql+psycopg://model@db:5432/model"),
        ("RUNTIME_ENV", "prod"),
        ("LOG_DIR", "/app/logs"),
    ],
)
def test_plain_settings_are_not_secret_looking(name: str, value: str) -> None:
    assert not looks_secret(name, value)


def test_deployment_reading_secrets_from_files_passes() -> None:
    container = k8s_container()
    container["env"].append({"name": "DATABASE_URL_FILE", "value": "/run/secrets/database_url"})
    container["env"].append({"name": "SECRET_KEY_FILE", "value": "/run/secrets/secret_key"})
    assert check_resource(no_plaintext_secrets, DEPLOYMENT, deployment(container)) == []


def test_a_secret_in_the_environment_by_reference_is_refused() -> None:
    container = k8s_container()
    container["env"].append({"name": "DATABASE_URL", "valueFrom": SECRET_KEY_REF})
    container["envFrom"] = [{"configMapRef": {"name": "env"}}, {"secretRef": {"name": "app-secrets"}}]
    assert check_resource(no_plaintext_secrets, DEPLOYMENT, deployment(container), name="api") == [
        "Deployment 'api' container 'api' puts a Secret into its environment as DATABASE_URL: mount the "
        "Secret as a read-only volume and point the service at the file with DATABASE_URL_FILE.",
        "Deployment 'api' container 'api' puts every key of Secret 'app-secrets' into its environment "
        "(envFrom.secretRef): mount the Secret as a read-only volume and set NAME_FILE for each secret "
        "instead.",
    ]


def test_a_file_variable_is_a_path_not_a_secret() -> None:
    assert not looks_secret("SECRET_KEY_FILE", "/run/secrets/secret_key")
    assert looks_secret("DATABASE_URL_FILE", "postgresql://model:pw@db/model")  # a URL is no path


def test_plaintext_secret_values_in_kubernetes_are_refused() -> None:
    env = [
        {"name": "SECRET_KEY", "value": "0123456789abcdef0123456789abcdef"},
        {"name": "DATABASE_URL", "value": "postgresql+psycopg://model:pw@db:5432/model"},
        {"name": "TOKEN_TTL_SECONDS", "value": "3600"},
    ]
    assert check_resource(no_plaintext_secrets, JOB, job(k8s_container(env=env)), name="migrate") == [
        "Job 'migrate' container 'api' sets SECRET_KEY as a plaintext value: mount the Secret as a "
        "read-only volume and point the service at the file with SECRET_KEY_FILE.",
        "Job 'migrate' container 'api' sets DATABASE_URL as a plaintext value: mount the Secret as a "
        "read-only volume and point the service at the file with DATABASE_URL_FILE.",
    ]


def test_command_passing_secrets_by_name_passes() -> None:
    create = "docker run --rm --env SECRET_KEY --env DATABASE_URL -e RUNTIME_ENV=test img flask db upgrade"
    props = {"create": create, "environment": {"SECRET_KEY": "value-from-a-pulumi-secret"}}
    assert check_resource(no_plaintext_secrets, COMMAND, props, name="migrate") == []


def test_command_with_secrets_on_its_command_line_is_refused() -> None:
    create = (
        "docker run --rm -e SECRET_KEY=abc --env=DATABASE_URL=postgresql+psycopg://model:pw@db/model "
        "img flask db upgrade"
    )
    assert check_resource(no_plaintext_secrets, COMMAND, {"create": create}, name="migrate") == [
        "Command 'migrate' puts SECRET_KEY, DATABASE_URL in plaintext on its 'create' command line: pass "
        "secrets through the environment (`docker run --env NAME`), never on the command line."
    ]


def test_url_with_password_as_an_argument_is_refused() -> None:
    props = {"create": "echo ok", "update": "psql 'postgresql://model:pw@db/model' -c 'select 1'"}
    assert check_resource(no_plaintext_secrets, COMMAND, props, name="probe") == [
        "Command 'probe' puts a URL with a password in plaintext on its 'update' command line: pass secrets "
        "through the environment (`docker run --env NAME`), never on the command line."
    ]


def test_docker_container_command_with_a_secret_is_refused() -> None:
    props = docker_container(command=["gunicorn", "--env", "SECRET_KEY=abc"])
    assert check_resource(no_plaintext_secrets, CONTAINER, props) == [
        "Docker container 'web' puts SECRET_KEY in plaintext in its 'command': "
        "set it in 'envs' from a Pulumi secret."
    ]


def test_docker_envs_with_secrets_are_refused_whatever_their_secretness() -> None:
    """pulumi-policy strips the secret mark (pulumi/pulumi-policy#241), but no secret belongs in env."""
    props = docker_container(
        envs=["RUNTIME_ENV=test", "SECRET_KEY=anything", "DATABASE_URL=postgresql://model:pw@db/model"]
    )
    assert check_resource(no_plaintext_secrets, CONTAINER, props) == [
        "Docker container 'web' puts SECRET_KEY into its environment: upload it as a file (`uploads`, mode "
        "0400, owned by the app user) and set SECRET_KEY_FILE to its path.",
        "Docker container 'web' puts DATABASE_URL into its environment: upload it as a file (`uploads`, mode "
        "0400, owned by the app user) and set DATABASE_URL_FILE to its path.",
    ]


def test_docker_secrets_as_uploaded_files_pass() -> None:
    props = docker_container(
        envs=["RUNTIME_ENV=test", "SECRET_KEY_FILE=/run/secrets/secret_key"],
        uploads=[{"file": "/run/secrets/secret_key", "content": "s3cr3t", "permissions": "0400"}],
    )
    assert check_resource(no_plaintext_secrets, CONTAINER, props) == []
