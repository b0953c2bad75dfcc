"""Creating a live to start later, then starting it, through the API."""

from __future__ import annotations

import pytest
from factories import make_admin, make_token, make_user

from livelite.models import Role
from livelite.services.settings import set_setting


@pytest.fixture
def creator_token(app):
    with app.app_context():
        make_admin()
        creator = make_user("maker", role=Role.CREATOR)
        member = make_user("watcher")
        return make_token(creator, scopes=("read", "write")), make_token(member, scopes=("read", "write"))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_live_created_with_start_false_is_scheduled_until_started(app, client, creator_token):
    mine, _ = creator_token
    created = client.post(
        "/api/v1/lives", json={"title": "Friday class", "start": False}, headers=bearer(mine)
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["status"] == "scheduled" and body["started_at"] is None and body["hls_url"] is None
    assert client.get("/api/v1/lives").get_json() == []  # not live yet

    started = client.post(f"/api/v1/lives/{body['id']}/start", headers=bearer(mine))
    assert started.status_code == 200
    assert started.get_json()["status"] == "live" and started.get_json()["started_at"]
    assert [live["id"] for live in client.get("/api/v1/lives").get_json()] == [body["id"]]

    again = client.post(f"/api/v1/lives/{body['id']}/start", headers=bearer(mine))
    assert again.status_code == 409


def test_only_the_host_starts_it_and_the_rules_apply_at_start(app, client, creator_token):
    mine, theirs = creator_token
    live_id = client.post(
        "/api/v1/lives", json={"title": "Later", "start": False}, headers=bearer(mine)
    ).get_json()["id"]
    refused = client.post(f"/api/v1/lives/{live_id}/start", headers=bearer(theirs))
    assert refused.status_code == 403
    with app.app_context():
        set_setting("MAX_CONCURRENT_LIVES", 1)
    client.post("/api/v1/lives", json={"title": "Now"}, headers=bearer(theirs))  # a member may not go live
    other = client.post("/api/v1/lives", json={"title": "Busy", "start": False}, headers=bearer(mine))
    client.post(f"/api/v1/lives/{other.get_json()['id']}/start", headers=bearer(mine))
    blocked = client.post(f"/api/v1/lives/{live_id}/start", headers=bearer(mine))
    assert blocked.status_code == 409
    assert "already live" in blocked.get_json()["error"]["message"]
