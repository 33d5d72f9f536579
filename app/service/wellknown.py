"""What other services need to verify tokens themselves: the public keys as a JWK Set (RFC 7517)
and a minimal discovery document naming the issuer, that key set and the token endpoint."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, url_for

from . import signing_keys
from .openapi import documented
from .openapi import models as answers

wellknown = Blueprint("wellknown", __name__, url_prefix="/.well-known")

# Verifiers may cache the key set this long: `flask keys rotate` publishes a new key this long
# before it signs (service/signing_keys.py).
JWKS_MAX_AGE_SECONDS = signing_keys.JWKS_MAX_AGE_SECONDS


@wellknown.get("/jwks.json")
@documented(
    "The public keys that verify tokens (JWK Set): verify offline by the token's kid. Cache at most "
    "max-age; fetch again for an unknown kid.",
    responses={200: answers.Jwks},
    auth=False,
    tag="tokens",
)
def jwks() -> Response:
    response = jsonify(signing_keys.jwks(current_app.config["TOKEN_TTL_SECONDS"]))
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return response


@wellknown.get("/openid-configuration")
@documented(
    "Discovery: the issuer, the key set's URL and the token endpoint.",
    responses={200: answers.OpenIdConfiguration},
    auth=False,
    tag="tokens",
    database=False,
)
def openid_configuration() -> Response:
    base = current_app.config["PUBLIC_URL"]
    response = jsonify(
        {
            "issuer": current_app.config["TOKEN_ISSUER"],
            "jwks_uri": _url("wellknown.jwks", base),
            "token_endpoint": _url("api.login", base),
            "id_token_signing_alg_values_supported": [signing_keys.ALGORITHM],
        }
    )
    if not base:
        # Built from the request's Host header: no shared cache may keep it and serve it to others
        # (a poisoned jwks_uri would hand verifiers an attacker's keys). PUBLIC_URL avoids this.
        response.headers["Cache-Control"] = "no-store"
    return response


def _url(endpoint: str, base: str) -> str:
    return base + url_for(endpoint) if base else url_for(endpoint, _external=True)
