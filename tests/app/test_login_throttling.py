"""Issue 12, row 3: failed logins are throttled per account and per client address, in the database
(so every worker and pod sees the same lock), with 429 + Retry-After and a backoff that ends."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service.extensions import db
from service.models import LoginThrottle
from sqlalchemy import select

from tests.support.app import USER_PASSWORD, MakeUser, error_of, running_app, service_env

WRONG = "not-the-password"


def login(client: FlaskClient, username: str, password: str, address: str = "127.0.0.1") -> Any:
    return client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_200_wrong_passwords_5_at_a_time_lock_the_account_and_the_right_one_waits(
    app: Flask, migrated_database: tuple[Path, str], make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    make_user("victim")
    caplog.set_level(logging.INFO, logger="service")
    # Five hash slots: this one process stands for five workers, each hashing one attempt at a time
    # (with the default single slot most of the 5 parallel attempts would be 503s, row 4's bound).
    with running_app(service_env(*migrated_database), PASSWORD_HASH_CONCURRENCY=5) as service:

        def attempt(_: int) -> tuple[int, str | None]:
            response = login(service.test_client(), "victim", WRONG)
            return response.status_code, response.headers.get("Retry-After")

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=5) as pool:
            results = list(pool.map(attempt, range(200)))
        elapsed = time.monotonic() - started
    statuses = Counter(status for status, _ in results)
    assert set(statuses) == {401, 429}, statuses
    # 5 failures are free; each of the 5 parallel clients may have one attempt past the check (hashing)
    # when the lock is committed, and that one is still answered 401. The lock is a backoff (1 s, then
    # 2, 4, ...): on a slow machine a run that outlasts a lock lets each client past once more per
    # lock that ended, and no more.
    locks_ended = int(math.log2(elapsed + 1))
    assert 5 <= statuses[401] <= 5 + 5 * (1 + locks_ended), (statuses, f"{elapsed:.1f} s")
    assert all(retry is not None and int(retry) >= 1 for status, retry in results if status == 429)

    locked = login(app.test_client(), "victim", USER_PASSWORD)
    error = error_of(locked, 429)
    assert error["code"] == "too_many_requests"
    assert error["message"].startswith("too many failed logins for this account; retry in ")
    assert 1 <= int(locked.headers["Retry-After"]) <= 300
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("login lock: user:victim after 5 failures") for m in messages), messages
    assert any(m.startswith("login refused for 'victim' from 127.0.0.1: account locked") for m in messages)


def test_the_lock_is_a_backoff_that_ends_and_a_success_clears_it(
    app: Flask, migrated_database: tuple[Path, str], make_user: MakeUser
) -> None:
    make_user("walter")
    with running_app(service_env(*migrated_database), LOGIN_LOCK_MAX_SECONDS=2) as short:
        client = short.test_client()
        for _ in range(5):
            assert login(client, "walter", WRONG).status_code == 401
        assert login(client, "walter", USER_PASSWORD).headers["Retry-After"] == "1"  # 1 s after 5
        time.sleep(1.1)
        assert login(client, "walter", WRONG).status_code == 401  # the 6th failure: 2 s
        assert login(client, "walter", USER_PASSWORD).headers["Retry-After"] == "2"
        time.sleep(2.1)
        assert login(client, "walter", WRONG).status_code == 401  # the 7th: 4 s, capped at 2
        assert login(client, "walter", USER_PASSWORD).headers["Retry-After"] == "2"
        time.sleep(2.1)
        assert login(client, "walter", USER_PASSWORD).status_code == 200
        # The success forgot the account's failures: the next wrong password is a plain 401 again.
        assert login(client, "walter", WRONG).status_code == 401


def test_a_lock_made_by_one_process_holds_in_another(
    app: Flask, migrated_database: tuple[Path, str], make_user: MakeUser
) -> None:
    """Two app instances on one database stand for two workers or two pods."""
    make_user("xena")
    with running_app(service_env(*migrated_database)) as other_pod:
        first, second = app.test_client(), other_pod.test_client()
        for attempt in range(5):
            assert login(first if attempt % 2 else second, "xena", WRONG).status_code == 401
        error_of(login(second, "xena", USER_PASSWORD), 429)
        error_of(login(first, "xena", USER_PASSWORD), 429)


def test_one_address_failing_on_many_accounts_is_locked_and_others_are_not(
    app: Flask, migrated_database: tuple[Path, str], make_user: MakeUser
) -> None:
    make_user("yuri")
    environ = service_env(*migrated_database)
    with running_app(environ, LOGIN_FAILURES_PER_ADDRESS=4) as service:
        client = service.test_client()
        for name in ("ann", "bob", "cid", "dee"):
            assert login(client, name, WRONG, address="10.0.0.7").status_code == 401
        error = error_of(login(client, "yuri", USER_PASSWORD, address="10.0.0.7"), 429)
        assert error["message"].startswith("too many failed logins for this address")
        assert login(client, "yuri", USER_PASSWORD, address="10.0.0.8").status_code == 200
        # IPv6 clients are counted per /64: rotating the host part does not help.
        for host in range(1, 5):
            assert login(client, "eve", WRONG, address=f"2001:db8:1:2::{host}").status_code == 401
        error_of(login(client, "yuri", USER_PASSWORD, address="2001:db8:1:2::99"), 429)


def test_an_operator_unlocks_an_account_at_once(app: Flask, client: FlaskClient, make_user: MakeUser) -> None:
    make_user("zoe")
    for _ in range(5):
        login(client, "zoe", WRONG)
    error_of(login(client, "zoe", USER_PASSWORD), 429)
    listed = app.test_cli_runner().invoke(args=["login-locks"])
    assert "user:zoe\tfailures=5\tlocked" in listed.output
    result = app.test_cli_runner().invoke(args=["unlock-user", "zoe"])
    assert result.exit_code == 0, result.output
    assert "account 'zoe': unlocked" in result.output
    assert login(client, "zoe", USER_PASSWORD).status_code == 200


def test_unknown_usernames_are_throttled_like_real_ones(app: Flask, client: FlaskClient) -> None:
    """A lock must not tell an attacker which names exist."""
    for _ in range(5):
        assert login(client, "ghost", WRONG).status_code == 401
    error = error_of(login(client, "ghost", WRONG), 429)
    assert "account" in error["message"]


def test_failures_older_than_15_minutes_are_forgotten_and_their_rows_deleted(
    app: Flask, client: FlaskClient
) -> None:
    long_ago = time.time() - 16 * 60
    with app.app_context():
        db.session.add_all(
            [
                LoginThrottle(key="user:old-guess", failures=50, last_failure=long_ago, locked_until=0.0),
                LoginThrottle(key="user:amy", failures=4, last_failure=long_ago, locked_until=0.0),
            ]
        )
        db.session.commit()
    # amy's 4 old failures no longer count: this one is her first, not her fifth.
    assert login(client, "amy", WRONG).status_code == 401
    assert login(client, "amy", WRONG).status_code == 401
    with app.app_context():
        rows = dict(db.session.execute(select(LoginThrottle.key, LoginThrottle.failures)).tuples().all())
    assert rows == {"user:amy": 2, "addr:127.0.0.1": 2}
