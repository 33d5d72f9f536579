"""X-Request-ID: kept from a trusted front proxy (with its client address), made fresh for anyone else,
and always returned; a bad TRUSTED_PROXIES stops the start."""

from __future__ import annotations

import re

import pytest
from flask import Flask, g
from service import ConfigError, create_app
from service.config import trusted_proxies

FRESH_ID = re.compile(r"[0-9a-f]{32}")


def test_every_answer_carries_a_fresh_request_id(app: Flask) -> None:
    client = app.test_client()
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/nowhere").headers["X-Request-ID"]
    assert FRESH_ID.fullmatch(first)
    assert FRESH_ID.fullmatch(second)
    assert first != second


def test_a_client_that_is_not_a_trusted_proxy_cannot_choose_its_request_id(app: Flask) -> None:
    app.config["TRUSTED_PROXIES"] = []
    response = app.test_client().get("/healthz", headers={"X-Request-ID": "chosen-by-client"})
    assert FRESH_ID.fullmatch(response.headers["X-Request-ID"])


def test_a_trusted_proxys_request_id_and_client_address_are_kept(app: Flask) -> None:
    app.config["TRUSTED_PROXIES"] = trusted_proxies({"TRUSTED_PROXIES": "10.0.0.0/8"})
    client = app.test_client()
    proxied = {"REMOTE_ADDR": "10.1.2.3"}
    headers = {"X-Request-ID": "edge-42:a.b", "X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    with client:
        response = client.get("/healthz", headers=headers, environ_base=proxied)
        assert g.client == "198.51.100.7"  # the hop the trusted proxy added
    assert response.headers["X-Request-ID"] == "edge-42:a.b"
    # An id that is not plain text (it goes to logs and headers) is replaced, even from the proxy.
    odd = client.get("/healthz", headers={"X-Request-ID": "a b\tc"}, environ_base=proxied)
    assert FRESH_ID.fullmatch(odd.headers["X-Request-ID"])


def test_a_bad_trusted_proxies_value_stops_the_start() -> None:
    with pytest.raises(ConfigError, match=r"TRUSTED_PROXIES: .proxy\.local. is not an IP address or network"):
        create_app({"RUNTIME_ENV": "dev", "TRUSTED_PROXIES": "10.0.0.1, proxy.local"})
