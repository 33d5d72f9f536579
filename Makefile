# The task index: `make help` lists what there is to do. Every target calls a script that also
# works on its own (CI and the GitHub workflows call the same scripts), so make is a convenience,
# not a requirement.
.DEFAULT_GOAL := help
.PHONY: help up test test-mocked engine lint lock manifests openapi bench bench-quick

help: ## list the tasks
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: ## set up this machine and deploy the test stack to the local Docker engine (scripts/up.sh)
	bash scripts/up.sh

test: ## the whole test suite, starting what it needs: Docker, PostgreSQL, base image (scripts/test.sh)
	bash scripts/test.sh

test-mocked: ## the fast tests without Docker or PostgreSQL, as pull requests run them
	bash scripts/test-mocked.sh

engine: ## build the real Pulumi engine, Kubernetes provider and control plane from Go modules (cached)
	bash scripts/engine-tools.sh --cluster

lint: ## ruff, mypy, hadolint, actionlint, shellcheck (scripts/lint.sh)
	bash scripts/lint.sh

lock: ## recompile the pinned lock files from the *.in files (scripts/lock.sh)
	bash scripts/lock.sh

manifests: ## re-render docs/manifests/ (prod stack, and its optional Ingress, under Pulumi mocks) and docs/pulumi.md's config table
	PYTHONPATH=. .venv/bin/python scripts/render_manifests.py

openapi: ## rewrite the OpenAPI document (app/service/openapi/openapi.json) and docs/contract.md's endpoint list
	.venv/bin/python scripts/openapi.py

bench: ## the full benchmarks (about 40 min), results in docs/benchmarks.md
	bash bench/run.sh

bench-quick: ## every benchmark once, briefly (the CI smoke)
	bash bench/run.sh --quick
