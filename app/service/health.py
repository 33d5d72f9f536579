"""/healthz: the process answers. /readyz: the database answers and its schema is at the migration head."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import observability
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .openapi import documented
from .openapi import models as answers

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

health = Blueprint("health", __name__)


@cache  # the scripts ship with the code, so they cannot change while the process runs
def migration_heads() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def database_revisions() -> set[str]:
    """The revision(s) the database says it is at (empty before the first upgrade)."""
    with db.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


@health.get("/healthz")
@documented(
    "The process answers.", responses={200: answers.Health}, auth=False, tag="operations", database=False
)
def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@health.get("/version")
@documented(
    "What is running: version, revision and image.",
    responses={200: answers.Version},
    auth=False,
    tag="operations",
    database=False,
)
def version() -> dict[str, str]:
    """What is running, without shell access: set at build time (SERVICE_VERSION, SERVICE_REVISION)
    and by the deploy (IMAGE_REF, the image by digest)."""
    return observability.build_info()


@health.get("/readyz")
@documented(
    "Ready to serve: the database answers and its schema is at the migration head.",
    responses={200: answers.Ready, 503: answers.NotReady},
    auth=False,
    tag="operations",
)
def readyz() -> tuple[dict[str, Any], int]:
    try:
        current = database_revisions()
    except SQLAlchemyError as error:
        reason = f"database unreachable: {type(error).__name__}"
        return {"status": "unavailable", "reason": reason}, 503
    heads = migration_heads()
    if current != heads:
        reason = (
            f"schema at {sorted(current) or 'no revision'}, migrations head is {sorted(heads)}; "
            "run `flask db upgrade`"
        )
        return {"status": "unavailable", "reason": reason}, 503
    return {"status": "ready", "revision": sorted(heads)}, 200
