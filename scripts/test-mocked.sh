#!/usr/bin/env bash
# The fast tests that need neither Docker nor PostgreSQL: the program under Pulumi mocks, the policy
# pack, the workflows, and the API contract's document (current, every route in it: a new endpoint
# without `@documented` fails here). Pull-request checks run exactly this; the whole suite is
# scripts/test.sh.
# Extra arguments go to pytest. Needs the virtualenv (scripts/venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

exec .venv/bin/pytest tests/program tests/policy tests/test_workflows.py tests/test_task_index.py tests/contract/test_document.py "$@"
