"""Issue 14: every user, role, permission and service-account change of the lifecycle endpoints is
one audit record (committed with the change), and every refusal of their escalation checks too."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of

URL = "/api/v1/audit-events"


def events(client: FlaskClient, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    response = client.get(URL, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["events"]
    return found


def summary(event: dict[str, Any]) -> tuple[Any, ...]:
    target = event["target"] or {}
    return (event["action"], event["outcome"], event["actor"]["name"], target.get("name"))


def test_user_changes_and_refusals_are_on_record(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    user = make_user("lou")
    url = f"/api/v1/users/{user['id']}"
    client.patch(url, json={"display_name": "Lou"}, headers=admin_headers)
    client.patch(url, json={"disabled": True}, headers=admin_headers)
    client.post(f"{url}/password-reset", headers=admin_headers)
    client.delete(url, headers=admin_headers)
    trail = [summary(e) for e in events(client, admin_headers, target_type="user", target_id=str(user["id"]))]
    assert trail[:4] == [
        ("user.delete", "success", "admin", "lou"),
        ("user.password.reset", "success", "admin", "lou"),
        ("user.disable", "success", "admin", "lou"),
        ("user.update", "success", "admin", "lou"),
    ]
    newest = events(client, admin_headers, action="user.password.reset")[0]
    assert newest["details"] == {"change_required": True, "tokens_revoked": True}  # never the password

    client.post(
        "/api/v1/roles", json={"name": "helpdesk", "permissions": ["users:update"]}, headers=admin_headers
    )
    make_user("moe", roles=("helpdesk",))
    admin_id = client.get("/api/v1/users/me", headers=admin_headers).get_json()["user"]["id"]
    refused = client.patch(
        f"/api/v1/users/{admin_id}", json={"disabled": True}, headers=login_as("moe", USER_PASSWORD)
    )
    error_of(refused, 403)
    denied = events(client, admin_headers, action="user.disable", outcome="denied")[0]
    assert summary(denied) == ("user.disable", "denied", "moe", "admin")
    assert "users:create" in denied["details"]["missing_permissions"]


def test_role_permission_and_service_account_changes_are_on_record(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    role = client.post(
        "/api/v1/roles", json={"name": "readers", "permissions": ["users:read"]}, headers=admin_headers
    )
    role_id = role.get_json()["id"]
    user = make_user("nia", roles=("readers",))
    client.patch(f"/api/v1/roles/{role_id}", json={"description": "read only"}, headers=admin_headers)
    client.delete(f"/api/v1/users/{user['id']}/roles/{role_id}", headers=admin_headers)
    client.delete(f"/api/v1/roles/{role_id}", headers=admin_headers)
    created = client.post(
        "/api/v1/service-accounts", json={"name": "billing"}, headers=admin_headers
    ).get_json()
    account_id = created["service_account"]["id"]
    client.post(f"/api/v1/users/{account_id}/roles", json={"role": "admin"}, headers=admin_headers)
    body = {
        "grant_type": "client_credentials",
        "client_id": "billing",
        "client_secret": created["client_secret"],
    }
    token = client.post("/api/v1/auth/token", json=body).get_json()["access_token"]
    service = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/permissions", json={"name": "billing:refund"}, headers=service)
    client.post("/api/v1/auth/token", json={**body, "client_secret": "wrong"})

    trail = [summary(e) for e in events(client, admin_headers, limit="9")]
    assert trail[:7] == [
        ("auth.token", "failure", "billing", None),
        ("permission.register", "success", "billing", "billing:refund"),
        ("auth.token", "success", "billing", None),
        ("role.grant", "success", "admin", "billing"),
        ("service_account.create", "success", "admin", "billing"),
        ("role.delete", "success", "admin", "readers"),
        ("role.revoke", "success", "admin", "nia"),
    ]
    registered = events(client, admin_headers, action="permission.register")[0]
    assert registered["actor"]["type"] == "service_account"
    assert not any("secret" in str(event["details"]) for event in events(client, admin_headers))
