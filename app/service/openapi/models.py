"""The bodies the service answers with, as pydantic models: the OpenAPI document's response schemas.

Strict about extra fields (`additionalProperties: false`), so the property-based contract test
(tests/contract) notices a field a route adds without saying so here. The request bodies are in
service/validation.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    code: str  # e.g. 'bad_request', 'unauthorized', 'not_found'
    message: str  # what is wrong and what is allowed


class Error(Answer):
    """Every error (4xx and 5xx), the service's own and Werkzeug's (service/errors.py)."""

    error: ErrorDetail


class Token(Answer):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int  # seconds


class User(Answer):
    id: int
    username: str
    display_name: str
    kind: Literal["user", "service"]  # a person, or a service account (client credentials)
    created_at: datetime
    disabled: bool
    must_change_password: bool  # set by an admin reset or `flask create-admin`
    roles: list[str]


class PasswordReset(Answer):
    user: User
    temporary_password: str  # shown once; the user must replace it at the next login


class Me(Answer):
    user: User
    roles: list[str]
    permissions: list[str]


class UserPage(Answer):
    users: list[User]
    limit: int
    offset: int


class Role(Answer):
    id: int
    name: str
    description: str
    permissions: list[str]


class RoleList(Answer):
    roles: list[Role]


class Permission(Answer):
    name: str
    description: str
    builtin: bool  # the service's own; false: registered by another service


class PermissionList(Answer):
    permissions: list[Permission]


class ServiceAccountSecret(Answer):
    service_account: User
    client_id: str
    client_secret: str  # shown this once; only its hash is kept


class ServiceAccountList(Answer):
    service_accounts: list[User]


class IntrospectedUser(Answer):
    id: int
    username: str
    disabled: bool


class Introspection(Answer):
    allowed: bool  # false too for a disabled user
    user: IntrospectedUser
    permission: str


class AuthorizedUser(Answer):
    id: int
    username: str


class Authorized(Answer):
    allowed: Literal[True]  # a denial is a 403 with the error shape
    user: AuthorizedUser
    permission: str


class AuditActor(Answer):
    type: str  # user, service_account, cli, anonymous
    id: int | None
    name: str | None


class AuditTarget(Answer):
    type: str  # user, role, permission, ...
    id: str | None
    name: str | None


class AuditEvent(Answer):
    """One security-relevant event (service/audit.py; the list in docs/contract.md)."""

    id: int
    occurred_at: datetime
    action: str
    outcome: Literal["success", "failure", "denied", "throttled"]
    actor: AuditActor
    target: AuditTarget | None
    client_address: str | None
    request_id: str | None
    details: dict[str, Any]  # ids, names and reasons; never a secret


class AuditEventPage(Answer):
    events: list[AuditEvent]  # newest first
    limit: int
    next_before_id: int | None  # pass as before_id for the next (older) page; null on the last page


class Health(Answer):
    status: Literal["ok"]


class Version(Answer):
    version: str
    revision: str
    image: str  # the image by digest, as the deploy passed it; 'unknown' outside a deploy


class Ready(Answer):
    status: Literal["ready"]
    revision: list[str]


class NotReady(Answer):
    status: Literal["unavailable"]
    reason: str


class OpenAPIDocument(BaseModel):
    """This document itself (its full schema is the OpenAPI 3.1 specification's)."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


class Jwk(Answer):
    """One public signing key (RFC 8037: an Ed25519 key as a JWK)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str  # the public key, base64url
    kid: str  # the `kid` in the header of the tokens it verifies
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class Jwks(Answer):
    """The JWK Set (RFC 7517): the key that signs, the next one, and retired ones still needed."""

    keys: list[Jwk]


class OpenIdConfiguration(Answer):
    issuer: str
    jwks_uri: str
    token_endpoint: str
    id_token_signing_alg_values_supported: list[Literal["EdDSA"]]
