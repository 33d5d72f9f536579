"""Schemathesis against the real service: for every operation in the committed document, generated
requests (valid and invalid) to a real gunicorn on 127.0.0.1 over PostgreSQL, as the admin (so the
protected operations run) and without a token. No answer may be a 5xx, and each must match the
document: a documented status, its content type and its schema.

Bounded: EXAMPLES per operation and mode, each request with a timeout, each test with a time limit.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance
from service.openapi import DOCUMENT_PATH

from tests.contract.conftest import login
from tests.support.gunicorn import Server

EXAMPLES = 25  # per operation; argon2 makes each login or user creation cost ~0.5 s here
REQUEST_TIMEOUT = 30  # seconds
TEST_TIMEOUT = 300  # seconds, per operation (pytest-timeout)

# Extra (ignored) body fields are generated freely; without NUL characters, which the service refuses
# in any string of a body (400), and the document says so only for the fields it names.
schema = schemathesis.openapi.from_path(
    DOCUMENT_PATH, config=SchemathesisConfig.from_dict({"generation": {"allow-x00": False}})
)

# Schemathesis expects a schema-valid request never to be a 400. These operations may refuse one,
# for a reason no schema can state; every other check still runs on them.
VALID_BUT_REFUSED = {
    "POST /api/v1/roles": "permission names must exist (unknown ones: 400 naming the known ones)",
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


@pytest.fixture(scope="module")
def admin_headers(contract_server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(contract_server)}"}


@pytest.mark.postgres
@pytest.mark.timeout(TEST_TIMEOUT)
@schema.parametrize()
@bounded
def test_as_admin_every_answer_matches_the_document(
    case: Case, contract_server: Server, admin_headers: dict[str, Any]
) -> None:
    case.call_and_validate(
        base_url=contract_server.url,
        headers=admin_headers,
        excluded_checks=excluded_checks(case),
        timeout=REQUEST_TIMEOUT,
    )


@pytest.mark.postgres
@pytest.mark.timeout(TEST_TIMEOUT)
@schema.parametrize()
@bounded
def test_without_a_token_every_answer_matches_the_document(case: Case, contract_server: Server) -> None:
    case.call_and_validate(
        base_url=contract_server.url, excluded_checks=excluded_checks(case), timeout=REQUEST_TIMEOUT
    )
