"""Stack setting trustedProxies (kubernetes): the networks of the proxies in front of the pods, such as the
ingress controller's. Passed to the serving pods only, as TRUSTED_PROXIES (the service believes their
X-Forwarded-For last hop and X-Request-ID) and FORWARDED_ALLOW_IPS (gunicorn believes their
X-Forwarded-Proto). Without it, behind an Ingress every client has the controller's address, so one
client's failed logins lock the per-address throttle for everyone."""

from __future__ import annotations

import ipaddress

import pytest
from gunicorn.config import validate_string_to_addr_list
from service.config import ConfigError
from service.config import trusted_proxies as service_trusted_proxies

from components.settings import SettingsError, parse_settings
from tests.support.pulumi_mocks import ProgramRun, run_failing_program, run_program
from tests.support.resource_types import API_CONTAINER, CONFIG_MAP, DEPLOYMENT, JOB
from tests.support.workloads import container_env

PROXY_VARIABLES = ("TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS")
ALLOWED = "expected comma-separated CIDRs, e.g. 10.20.0.0/16,192.0.2.10/32"

# value -> the networks the pods get, normalised (a bare address is its /32 or /128, host bits dropped).
GOOD = {
    "10.244.0.0/16": "10.244.0.0/16",
    "10.244.1.7": "10.244.1.7/32",
    "10.244.1.7/16": "10.244.0.0/16",
    " 10.244.0.0/16 , 192.0.2.10 ": "10.244.0.0/16,192.0.2.10/32",
    "10.0.0.0/8": "10.0.0.0/8",
    "fd00:10:244::/56": "fd00:10:244::/56",
    "2001:db8::/32,10.96.0.0/12": "2001:db8::/32,10.96.0.0/12",
}
# Refused by the service's own TRUSTED_PROXIES rule too (app/service/config.py).
NOT_NETWORKS = ["ingress-nginx", "10.244.0.0/33", "10.244.0.256", "10.244.0.0/16;10.0.0.0/8", "fd00::/129"]
# Accepted by the service, refused here: every client on the internet could choose its own address.
TOO_WIDE = {"0.0.0.0/0": 8, "4.0.0.0/6": 8, "::/0": 32, "2001::/16": 32}


def docker_env(run: ProgramRun) -> dict[str, str]:
    envs: list[str] = run.named(API_CONTAINER).input("envs")
    return dict(env.split("=", 1) for env in envs)


@pytest.mark.parametrize(("value", "networks"), GOOD.items())
def test_the_pods_get_the_normalised_networks_in_both_variables(value: str, networks: str) -> None:
    run = run_program("prod", overrides={"trustedProxies": value})
    env = container_env(run.one(DEPLOYMENT))
    assert {name: env[name] for name in PROXY_VARIABLES} == dict.fromkeys(PROXY_VARIABLES, networks)


@pytest.mark.parametrize("networks", GOOD.values())
def test_the_service_and_gunicorn_read_the_same_networks_the_program_passes(networks: str) -> None:
    expected = [ipaddress.ip_network(item) for item in networks.split(",")]
    assert service_trusted_proxies({"TRUSTED_PROXIES": networks}) == expected
    # gunicorn parses each strictly (no host bits set): "10.244.1.7/16" as given would stop its start.
    assert validate_string_to_addr_list(networks) == networks.split(",")


def test_only_the_serving_pods_get_them_not_the_migration() -> None:
    run = run_program("prod", overrides={"trustedProxies": "10.244.0.0/16"})
    for variable in PROXY_VARIABLES:
        assert variable not in container_env(run.one(JOB))
        assert variable not in run.one(CONFIG_MAP).input("data")


def test_unset_the_pods_believe_no_forwarding_headers(prod_stack: ProgramRun) -> None:
    env = container_env(prod_stack.one(DEPLOYMENT))
    assert not [variable for variable in PROXY_VARIABLES if variable in env]


@pytest.mark.parametrize("value", NOT_NETWORKS)
def test_a_value_that_is_not_networks_is_named_with_what_is_allowed(value: str) -> None:
    with pytest.raises(ConfigError):  # the service would not start with it either
        service_trusted_proxies({"TRUSTED_PROXIES": value})
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", {"trustedProxies": value}, set())
    [problem] = raised.value.problems
    assert problem.startswith(f"trustedProxies = {value!r} is not allowed: ")
    assert problem.endswith(f"is not an IP network; {ALLOWED}")


@pytest.mark.parametrize(("value", "widest"), TOO_WIDE.items())
def test_a_network_wider_than_a_proxy_range_is_refused(value: str, widest: int) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", {"trustedProxies": value}, set())
    assert raised.value.problems == [
        f"trustedProxies = {value!r} is not allowed: {value!r} is wider than /{widest}; name the proxies' "
        "own range (e.g. the cluster's pod CIDR, 10.244.0.0/16): every address in it may set the client "
        "address the pods believe"
    ]


def test_a_bad_value_stops_the_real_program_before_any_resource() -> None:
    error, registered = run_failing_program("prod", overrides={"trustedProxies": "0.0.0.0/0"})
    assert isinstance(error, SettingsError)
    assert "trustedProxies = '0.0.0.0/0' is not allowed" in str(error)
    assert registered == []


@pytest.mark.parametrize("front_proxy", ["nginx", "none"])
def test_the_docker_target_ignores_it(front_proxy: str) -> None:
    # The nginx front sets both variables to its private network itself; without a front, nothing does.
    plain = docker_env(run_program("test", overrides={"frontProxy": front_proxy}))
    run = run_program("test", overrides={"frontProxy": front_proxy, "trustedProxies": "10.244.0.0/16"})
    assert {name: docker_env(run).get(name) for name in PROXY_VARIABLES} == {
        name: plain.get(name) for name in PROXY_VARIABLES
    }
