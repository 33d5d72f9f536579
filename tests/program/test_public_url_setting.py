"""Stack setting publicUrl: validated once with the service's own PUBLIC_URL rule, passed as PUBLIC_URL to
the serving containers on both targets (never to the migration) only when set, and defaulted to
https://<ingressHost> behind an Ingress with TLS on kubernetes."""

from __future__ import annotations

import pytest
from service.config import ConfigError
from service.config import public_url as service_public_url

from components.settings import SettingsError, parse_settings
from components.settings.rules import public_url as program_public_url
from tests.support.pulumi_mocks import ProgramRun, run_failing_program, run_program
from tests.support.rendering import INGRESS_EXAMPLE
from tests.support.resource_types import API_CONTAINER, CONFIG_MAP, DEPLOYMENT, JOB
from tests.support.workloads import container_env

ALLOWED = "an http(s) URL with a host and no path, query, user or fragment, e.g. https://auth.example.com"

# Accepted by the service's rule (app/service/config.py), normalised to the origin.
GOOD = [
    "https://auth.example.com",
    "https://auth.example.com/",
    "http://127.0.0.1:8083",
    "https://[2001:db8::1]:8443",
    "  https://auth.example.com  ",
    "HTTPS://Auth.Example.com",
    "https://auth.example.com?",
]
# Refused by it: no scheme, another scheme, a path, a user, a query, a fragment, no host, a bad port.
BAD = [
    "auth.example.com",
    "//auth.example.com",
    "ftp://auth.example.com",
    "javascript:alert(1)",
    "https://auth.example.com/base",
    "https://auth.example.com/a/b/",
    "https://u@h.example",
    "https://u:p@h.example",
    "https://h.example?x=1",
    "https://h.example#top",
    "https://",
    "https://:8443",
    "https://h.example:99999",
    "https://h.example:port",
    "https://[::1",
]


def service_verdict(value: str) -> str | None:
    """What the service makes of PUBLIC_URL=value: the origin it uses, or None when it refuses to start."""
    try:
        return service_public_url({"PUBLIC_URL": value})
    except ConfigError:
        return None


def program_verdict(value: str) -> str | None:
    problems: list[str] = []
    origin = program_public_url(problems, "publicUrl", value)
    return None if problems else origin


def docker_env(run: ProgramRun) -> list[str]:
    envs: list[str] = run.named(API_CONTAINER).input("envs")
    return envs


@pytest.mark.parametrize("value", ["", *GOOD, *BAD])
def test_the_program_and_the_service_accept_and_refuse_the_same_values(value: str) -> None:
    assert program_verdict(value) == service_verdict(value)


def test_the_examples_cover_both_verdicts() -> None:
    assert all(service_verdict(value) for value in GOOD)
    assert all(service_verdict(value) is None for value in BAD)


def test_unset_passes_no_public_url_on_either_target(
    test_stack: ProgramRun, front_stack: ProgramRun, prod_stack: ProgramRun
) -> None:
    for run in (test_stack, front_stack):
        assert not [env for env in docker_env(run) if env.startswith("PUBLIC_URL=")]
    assert "PUBLIC_URL" not in container_env(prod_stack.one(DEPLOYMENT))
    assert "PUBLIC_URL" not in prod_stack.one(CONFIG_MAP).input("data")


@pytest.mark.parametrize("front_proxy", ["nginx", "none"])
def test_a_set_value_reaches_the_docker_container_but_not_the_migration(front_proxy: str) -> None:
    run = run_program("test", overrides={"publicUrl": "https://auth.example.com/", "frontProxy": front_proxy})
    assert "PUBLIC_URL=https://auth.example.com" in docker_env(run)  # normalised as the service does
    migration = run.named("migration-upgrade")
    assert "PUBLIC_URL" not in migration.input("environment")
    assert "PUBLIC_URL" not in migration.input("create")


def test_a_set_value_reaches_the_deployment_but_not_the_configmap_the_job_shares() -> None:
    run = run_program("prod", overrides={"publicUrl": "https://auth.example.com"})
    assert container_env(run.one(DEPLOYMENT))["PUBLIC_URL"] == "https://auth.example.com"
    assert "PUBLIC_URL" not in container_env(run.one(JOB))
    assert "PUBLIC_URL" not in run.one(CONFIG_MAP).input("data")


@pytest.mark.parametrize("value", BAD)
def test_a_value_the_service_would_refuse_is_named_with_what_is_allowed(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", {"publicUrl": value}, set())
    assert raised.value.problems == [f"publicUrl = {value!r} is not allowed: expected empty or {ALLOWED}"]


@pytest.mark.parametrize("stack", ["test", "prod"])
def test_a_bad_value_stops_the_real_program_before_any_resource(stack: str) -> None:
    error, registered = run_failing_program(stack, overrides={"publicUrl": "https://auth.example.com/base"})
    assert isinstance(error, SettingsError)
    assert f"publicUrl = 'https://auth.example.com/base' is not allowed: expected empty or {ALLOWED}" in str(
        error
    )
    assert registered == []


def test_behind_an_ingress_with_tls_unset_means_https_on_the_ingress_host() -> None:
    # The pods see plain HTTP from the controller (gunicorn trusts no X-Forwarded-Proto there), so
    # Host-built discovery URLs would say http://; the Ingress names the origin clients use.
    run = run_program("prod", overrides=INGRESS_EXAMPLE)
    host = INGRESS_EXAMPLE["ingressHost"]
    assert container_env(run.one(DEPLOYMENT))["PUBLIC_URL"] == f"https://{host}"
    assert "PUBLIC_URL" not in container_env(run.one(JOB))


def test_a_set_value_wins_over_the_ingress_host() -> None:
    run = run_program("prod", overrides={**INGRESS_EXAMPLE, "publicUrl": "https://login.example.com"})
    assert container_env(run.one(DEPLOYMENT))["PUBLIC_URL"] == "https://login.example.com"


def test_an_ingress_without_tls_or_the_docker_target_gets_no_default() -> None:
    plain_ingress = {**INGRESS_EXAMPLE, "ingressTlsSecret": ""}
    run = run_program("prod", overrides=plain_ingress)
    assert "PUBLIC_URL" not in container_env(run.one(DEPLOYMENT))
    docker = run_program("test", overrides=INGRESS_EXAMPLE)  # ingress settings mean nothing on docker
    assert not [env for env in docker_env(docker) if env.startswith("PUBLIC_URL=")]
