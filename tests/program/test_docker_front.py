"""frontProxy nginx (the test stack's default) as the engine sees it: the front owns the name and host port,
the app container behind it is unpublished, shares the alias and is replaced create-before-replace; the
setting and the front's image are validated like every other setting."""

from __future__ import annotations

import re

import pytest

from components.contract import APP_UID, CONTAINER_NAME, PUBLIC_PORT
from components.docker.front import API_ALIAS, CONFIG_PATH, FRONT_PORT, FrontConfig
from components.settings import SettingsError, defaults, parse_settings
from tests.support.gunicorn import GUNICORN_CONF
from tests.support.pulumi_mocks import ProgramRun, is_unknown, run_program
from tests.support.resource_types import API_CONTAINER, FRONT_CONTAINER


def test_the_front_is_microservice_model_on_the_host_port_as_a_non_root_user(front_stack: ProgramRun) -> None:
    front = front_stack.named(FRONT_CONTAINER)
    assert front.input("name") == CONTAINER_NAME
    assert front.input("ports") == [
        {"internal": FRONT_PORT, "external": PUBLIC_PORT, "ip": "0.0.0.0", "protocol": "tcp"}  # noqa: S104
    ]
    assert front.input("user") == f"{APP_UID}:{APP_UID}"
    assert front.input("image") == defaults()["frontImage"]  # the official nginx, pinned by digest
    assert "@sha256:" in front.input("image")
    assert front.input("entrypoints") == ["nginx"]
    assert front.input("command") == ["-c", CONFIG_PATH, "-e", "stderr"]
    assert front_stack.export("frontContainerName") == CONTAINER_NAME


def test_the_front_runs_the_config_the_program_rendered_from_the_template(front_stack: ProgramRun) -> None:
    [upload] = front_stack.named(FRONT_CONTAINER).input("uploads")
    assert upload["file"] == CONFIG_PATH
    assert upload["content"] == FrontConfig(server_name=CONTAINER_NAME, read_timeout_seconds=45).render()
    assert "resolver 127.0.0.11 valid=1s" in upload["content"]
    assert f"server {API_ALIAS}:8000 resolve max_fails=0;" in upload["content"]
    assert "client_max_body_size 1m;" in upload["content"]
    assert "@@" not in upload["content"]


def upstream_block(config: str) -> str:
    match = re.search(r"^    upstream app \{\n(.*?)^    \}", config, re.MULTILINE | re.DOTALL)
    assert match, config
    return match.group(1)


def test_the_front_keeps_connections_to_gunicorn_open_and_closes_idle_ones_before_gunicorn_does() -> None:
    config = FrontConfig(server_name=CONTAINER_NAME, read_timeout_seconds=45).render()
    upstream = upstream_block(config)
    # Re-resolved from Docker's DNS (so new app containers get traffic), in shared memory, kept alive.
    assert re.search(rf"^\s*server {API_ALIAS}:8000 resolve max_fails=0;", upstream, re.MULTILINE), upstream
    assert re.search(r"^\s*zone app \d+k;", upstream, re.MULTILINE), upstream
    assert re.search(r"^\s*keepalive [1-9]\d*;", upstream, re.MULTILINE), upstream
    # Keep-alive to gunicorn needs HTTP/1.1 and no client Connection header passed on.
    assert "proxy_http_version 1.1;" in config
    assert 'proxy_set_header Connection "";' in config
    assert "proxy_pass http://app;" in config
    # nginx drops an idle upstream connection before gunicorn's keepalive timeout would close it, so it
    # never sends a request on a connection gunicorn is closing.
    nginx_idle = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream, re.MULTILINE)
    gunicorn_idle = re.search(r"^keepalive = (\d+)$", GUNICORN_CONF.read_text(), re.MULTILINE)
    assert nginx_idle, upstream
    assert gunicorn_idle, "no `keepalive = N` in app/gunicorn.conf.py"
    assert int(nginx_idle.group(1)) < int(gunicorn_idle.group(1))


def test_the_front_is_replaced_delete_first_and_updates_a_restart_policy_in_place(
    front_stack: ProgramRun,
) -> None:
    front = front_stack.named(FRONT_CONTAINER)
    assert front.delete_before_replace is True
    assert "restart" not in front.replace_on_changes
    assert "*" not in front.replace_on_changes
    assert "healthcheck" in front.replace_on_changes


def test_the_app_behind_the_front_is_unpublished_aliased_and_replaced_create_first(
    front_stack: ProgramRun,
) -> None:
    app = front_stack.named(API_CONTAINER)
    assert app.input("ports") in (None, [])
    assert app.input("networksAdvanced") == [{"name": "microservice-model-test", "aliases": [API_ALIAS]}]
    assert app.delete_before_replace is False
    assert app.replace_on_changes == ["*"]
    assert app.input("name").startswith(f"{CONTAINER_NAME}-api-")
    front = front_stack.named(FRONT_CONTAINER)
    assert app.urn in front.dependencies  # the front starts with an app container to serve


def test_the_app_trusts_forwarded_headers_from_the_private_network_only(front_stack: ProgramRun) -> None:
    names = {env.split("=", 1)[0] for env in front_stack.named(API_CONTAINER).input("envs")}
    assert {"TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS"} <= names


def test_any_change_to_the_app_gives_its_container_a_new_name() -> None:
    before = run_program("test").named(API_CONTAINER).input("name")
    same = run_program("test").named(API_CONTAINER).input("name")
    restarted = run_program("test", overrides={"restartPolicy": "always"}).named(API_CONTAINER).input("name")
    assert before == same
    assert restarted != before


def test_at_preview_the_app_name_is_unknown_and_the_front_name_is_known() -> None:
    run = run_program("test", preview=True)
    assert is_unknown(run.named(API_CONTAINER).inputs["name"])
    assert run.named(FRONT_CONTAINER).input("name") == CONTAINER_NAME


def test_front_proxy_none_declares_no_front() -> None:
    run = run_program("test", overrides={"frontProxy": "none"})
    assert [r.name for r in run.resources if r.name == FRONT_CONTAINER] == []
    assert run.named(API_CONTAINER).input("name") == CONTAINER_NAME


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"frontProxy": "haproxy"}, "frontProxy = 'haproxy' is not allowed: expected one of 'nginx', 'none'"),
        (
            {"frontImage": "nginx:latest"},
            "frontImage = 'nginx:latest' is not allowed: expected an nginx image",
        ),
        ({"frontImage": "nginx@sha256:abc"}, "frontImage = 'nginx@sha256:abc' is not allowed"),
    ],
)
def test_bad_front_settings_are_refused_naming_what_is_allowed(values: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        parse_settings("test", values, set())
    assert any(problem.startswith(message) for problem in refused.value.problems), refused.value.problems


def test_the_front_image_is_not_checked_when_there_is_no_front() -> None:
    settings = parse_settings("test", {"frontProxy": "none", "frontImage": "nginx:latest"}, set())
    assert settings.docker.front_proxy == "none"


def test_a_local_image_id_is_a_valid_front_image() -> None:
    local = "sha256:" + "a" * 64
    assert parse_settings("test", {"frontImage": local}, set()).docker.front_image == local


def test_a_request_caught_by_a_dns_change_is_retried_once_fresh_but_a_sent_post_is_not() -> None:
    config = FrontConfig(server_name=CONTAINER_NAME, read_timeout_seconds=45).render()
    assert "error_page 502 504 = @fresh;" in config
    fresh = config[config.index("location @fresh {") :]
    assert "proxy_pass http://app;" in fresh
    # Resent only when nothing reached gunicorn, or for an idempotent method; otherwise the 502 stands.
    assert 'if ($upstream_bytes_sent ~ "^[0, :]*$")' in fresh
    assert 'if ($request_method ~ "^(GET|HEAD|OPTIONS|PUT|DELETE)$")' in fresh
    assert "POST" not in fresh
    assert "return 502;" in fresh
