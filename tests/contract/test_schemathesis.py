"""Schemathesis against the real service: for every operation in the committed document, generated
requests (valid and invalid) to a real gunicorn on 127.0.0.1 over PostgreSQL, as the admin (so the
protected operations run) and without a token. No answer may be a 5xx, and each must match the
document: a documented status, its content type and its schema.

Bounded: EXAMPLES per operation and run, each request with a timeout, each test with a time limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import negated_parameters
from schemathesis.specs.openapi.checks import positive_data_acceptance
from service.openapi import DOCUMENT_PATH

from tests.contract.conftest import login
from tests.support.gunicorn import Server

EXAMPLES = 25  # per operation and run; argon2 makes each login or user creation cost ~0.5 s here
REQUEST_TIMEOUT = 30  # seconds
TEST_TIMEOUT = 300  # seconds, per operation and run (pytest-timeout)

# Extra (ignored) body fields are generated freely; without NUL characters, which the service refuses
# in any string of a body (400), and the document says so only for the fields it names.
schema = schemathesis.openapi.from_path(
    DOCUMENT_PATH, config=SchemathesisConfig.from_dict({"generation": {"allow-x00": False}})
)
AUTHORIZATION = ("Authorization", ParameterLocation.HEADER)

# Schemathesis expects a schema-valid request never to be a 400. These operations may refuse one,
# for a reason no schema can state; every other check still runs on them.
VALID_BUT_REFUSED = {
    "POST /api/v1/roles": "permission names must exist (unknown ones: 400 naming the known ones)",
    # The password policy refuses common and repetitive passwords (service/passwords.py), and a new
    # password equal to the current one: rules over a list and over two fields.
    "POST /api/v1/users": "a common or repetitive password is 400",
    "PUT /api/v1/users/me/password": "a common, repetitive or unchanged new password is 400",
    "POST /api/v1/auth/password-change": "a common, repetitive or unchanged new password is 400",
    "PATCH /api/v1/users/{user_id}": "a body with neither field changes nothing: 400",
    "PATCH /api/v1/roles/{role_id}": "an empty change, or unknown permission names: 400",
}


def excluded_checks(case: Case) -> list[Any]:
    return [positive_data_acceptance] if case.operation.label in VALID_BUT_REFUSED else []


bounded = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a hash takes what it takes on a busy machine; the time bound is TEST_TIMEOUT
    database=None,  # no .hypothesis/ folder in the checkout
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


@dataclass
class Admin:
    """The run's admin (user 1): its token, from a real login and renewed when an operation revoked
    it (a logout, say), and what each protected operation answered it."""

    server: Server
    user_id: int = 0
    token: str = ""
    statuses: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def headers_for(self, case: Case) -> dict[str, str]:
        """The bearer token, unless the case is Schemathesis testing a request without one."""
        if AUTHORIZATION in set(negated_parameters(case.meta)):
            return {}
        return {"Authorization": f"Bearer {self.token}"}

    def renew_token_if_revoked(self) -> None:
        me = requests.get(
            f"{self.server.url}/api/v1/users/me",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=REQUEST_TIMEOUT,
        )
        if me.status_code == 401:
            self.token = login(self.server)

    def spare_own_account(self, case: Case) -> None:
        """Hypothesis tries the smallest id first, and 1 is the admin and its role: a write naming
        them (delete, disable, revoke, reset) would leave the rest of the run without an admin.
        Such a case targets the next id instead; reads still use 1."""
        if case.method.upper() == "GET":
            return
        for name, value in (case.path_parameters or {}).items():
            if name.endswith("_id") and value == self.user_id:
                case.path_parameters[name] = value + 1


@pytest.fixture(scope="module")
def admin(contract_server: Server) -> Iterator[Admin]:
    admin = Admin(contract_server, token=login(contract_server))
    headers = {"Authorization": f"Bearer {admin.token}"}
    me = requests.get(f"{contract_server.url}/api/v1/users/me", headers=headers, timeout=REQUEST_TIMEOUT)
    admin.user_id = me.json()["user"]["id"]
    assert admin.user_id == 1, "the first admin is expected to be user 1 (and its role, role 1)"
    yield admin
    # Each protected operation that ran must have got past authentication at least once, so the
    # admin run did test what a token opens (not only 401s after the admin was locked out).
    locked_out = sorted(label for label, statuses in admin.statuses.items() if statuses <= {401})
    assert not locked_out, f"the admin run only ever got 401 from: {locked_out}"


@pytest.mark.postgres
@pytest.mark.timeout(TEST_TIMEOUT)
@schema.parametrize()
@bounded
def test_as_admin_every_answer_matches_the_document(
    case: Case, contract_server: Server, admin: Admin
) -> None:
    admin.spare_own_account(case)
    response = case.call_and_validate(
        base_url=contract_server.url,
        headers=admin.headers_for(case),
        excluded_checks=excluded_checks(case),
        timeout=REQUEST_TIMEOUT,
    )
    if case.operation.definition.raw.get("security"):
        admin.statuses[case.operation.label].add(response.status_code)
    admin.renew_token_if_revoked()


@pytest.mark.postgres
@pytest.mark.timeout(TEST_TIMEOUT)
@schema.parametrize()
@bounded
def test_without_a_token_every_answer_matches_the_document(case: Case, contract_server: Server) -> None:
    case.call_and_validate(
        base_url=contract_server.url, excluded_checks=excluded_checks(case), timeout=REQUEST_TIMEOUT
    )
