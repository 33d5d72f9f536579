"""Issue 13: behind the docker target's front proxy every request comes from the front's address, so
the login throttling per address counts the client the front saw (X-Forwarded-For's last hop), and only
when the request comes from TRUSTED_PROXIES; anyone else is counted by the TCP peer, whatever it says."""

from __future__ import annotations

from flask import Flask
from service.config import trusted_proxies
from service.extensions import db
from service.models import LoginThrottle
from sqlalchemy import select

FRONT = "172.30.0.2"  # the front's address on the private network
WRONG = {"username": "nobody-here", "password": "not-the-password"}


def failed_login(app: Flask, peer: str, forwarded_for: str) -> None:
    response = app.test_client().post(
        "/api/v1/auth/login",
        json=WRONG,
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": peer},
    )
    assert response.status_code == 401, response.get_data(as_text=True)


def address_keys(app: Flask) -> set[str]:
    with app.app_context():
        keys = db.session.scalars(select(LoginThrottle.key)).all()
    return {key for key in keys if key.startswith("addr:")}


def test_behind_the_trusted_front_failed_logins_count_against_the_forwarded_client(app: Flask) -> None:
    app.config["TRUSTED_PROXIES"] = trusted_proxies({"TRUSTED_PROXIES": "172.30.0.0/16"})
    failed_login(app, FRONT, "203.0.113.7")
    failed_login(app, FRONT, "198.51.100.1, 203.0.113.8")  # a client-made first hop is not believed
    assert address_keys(app) == {"addr:203.0.113.7", "addr:203.0.113.8"}


def test_a_client_not_in_trusted_proxies_is_counted_by_its_own_address(app: Flask) -> None:
    app.config["TRUSTED_PROXIES"] = trusted_proxies({"TRUSTED_PROXIES": "172.30.0.0/16"})
    failed_login(app, "192.0.2.50", "203.0.113.7")
    assert address_keys(app) == {"addr:192.0.2.50"}
