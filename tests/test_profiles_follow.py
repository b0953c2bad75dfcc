"""Profile pages, follower lists, and following through the page forms and the API."""

from __future__ import annotations

import re

import pytest
from factories import make_admin, make_followers, make_user
from pages import find_form, flashes, submit, text_of

from livelite.models import Role
from livelite.services import accounts


@pytest.fixture
def people(app):
    """@siteadmin, @bob (a creator with a bio) and @carol (a member)."""
    with app.app_context():
        make_admin()
        bob = make_user("bob", display_name="Bob Builder", role=Role.CREATOR)
        accounts.update_profile(bob, bio="I build things.\nLive on Sundays.")
        make_user("carol", display_name="Carol Singer")
    return app


def counts(html: str) -> tuple[int, int]:
    followers = re.search(r"<strong data-follower-count>(\d+)</strong>", html)
    following = re.search(r"<strong data-following-count>(\d+)</strong>", html)
    assert followers and following, "the profile shows no counts"
    return int(followers.group(1)), int(following.group(1))


def test_profile_shows_name_bio_role_and_counts(people, client):
    with people.app_context():
        bob, carol = accounts.get_by_username("bob"), accounts.get_by_username("carol")
        accounts.follow(carol, bob)
        make_followers(bob, 2)
        accounts.follow(bob, carol)
    response = client.get("/@bob")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Bob Builder</h1>" in html
    assert "<title>Bob Builder (@bob) · LiveLite</title>" in html
    assert '<p class="bio">I build things.\nLive on Sundays.</p>' in html
    assert "Creator" in text_of(html)
    assert counts(html) == (3, 1)
    assert "3 followers" in text_of(html)
    # A visitor is invited to log in to follow, with a way back here.
    assert 'href="/login?next=/@bob"' in html


def test_profile_counts_use_the_singular_for_one(people, client):
    with people.app_context():
        accounts.follow(accounts.get_by_username("carol"), accounts.get_by_username("bob"))
    assert re.search(r"\b1 follower\b(?!s)", text_of(client.get("/@bob").get_data(as_text=True)))


def test_profile_address_is_case_insensitive_and_unknown_is_404(people, client):
    assert "<h1>Bob Builder</h1>" in client.get("/@BOB").get_data(as_text=True)
    response = client.get("/@nobody_here")
    assert response.status_code == 404
    assert "No one has this username." in response.get_data(as_text=True)


def test_follow_and_unfollow_through_the_page(people, client, auth):
    auth.login("carol")
    page = client.get("/@bob").get_data(as_text=True)
    assert counts(page) == (0, 0)
    response = submit(client, "/@bob", action="/@bob/follow")
    assert response.status_code == 302
    assert response.headers["Location"] == "/@bob"

    page = client.get("/@bob").get_data(as_text=True)
    assert counts(page) == (1, 0)
    find_form(page, "/@bob/unfollow")  # the button now offers to unfollow
    assert counts(client.get("/@carol").get_data(as_text=True)) == (0, 1)
    with people.app_context():
        assert accounts.get_by_username("carol").is_following(accounts.get_by_username("bob"))

    submit(client, "/@bob", action="/@bob/unfollow")
    page = client.get("/@bob").get_data(as_text=True)
    assert counts(page) == (0, 0)
    find_form(page, "/@bob/follow")


def test_following_twice_counts_once(people, client, auth):
    auth.login("carol")
    page = client.get("/@bob").get_data(as_text=True)
    form = find_form(page, "/@bob/follow")
    client.post("/@bob/follow", data=form.values())
    client.post("/@bob/follow", data=form.values())
    assert counts(client.get("/@bob").get_data(as_text=True)) == (1, 0)


def test_follow_needs_login(people, client):
    response = client.post("/@bob/follow")  # CSRF is checked before anything else
    assert response.status_code == 400
    with people.app_context():
        assert accounts.get_by_username("bob").follower_count == 0


def test_visitor_with_a_token_is_sent_to_login(people, client):
    page = client.get("/@bob").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post("/@bob/follow", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_you_cannot_follow_yourself_through_the_page(people, client, auth):
    auth.login("bob")
    page = client.get("/@bob").get_data(as_text=True)
    assert "Edit profile" in page
    assert 'action="/@bob/follow"' not in page  # no follow button on your own page
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post("/@bob/follow", data={"csrf_token": token}, follow_redirects=True)
    assert "You cannot follow yourself." in flashes(response.get_data(as_text=True))
    assert counts(response.get_data(as_text=True)) == (0, 0)


def test_follower_and_following_lists_show_the_people(people, client):
    with people.app_context():
        bob, carol = accounts.get_by_username("bob"), accounts.get_by_username("carol")
        accounts.follow(carol, bob)
        dave = make_user("dave", display_name="Dave Drummer")
        accounts.follow(dave, bob)

    html = client.get("/@bob/followers").get_data(as_text=True)
    text = text_of(html)
    assert "Followers of Bob Builder" in text
    assert "Carol Singer @carol" in text and "Dave Drummer @dave" in text
    # Newest first.
    assert text.index("Dave Drummer") < text.index("Carol Singer")
    assert 'href="/@carol"' in html

    text = text_of(client.get("/@carol/following").get_data(as_text=True))
    assert "Followed by Carol Singer" in text
    assert "Bob Builder @bob" in text
    assert "Not following anyone yet." in text_of(client.get("/@bob/following").get_data(as_text=True))
    assert "No followers yet." in text_of(client.get("/@carol/followers").get_data(as_text=True))


def test_follower_list_pages_after_thirty(people, client):
    with people.app_context():
        make_followers(accounts.get_by_username("carol"), 31, prefix="fan_")
    first = text_of(client.get("/@carol/followers").get_data(as_text=True))
    assert "Page 1 of 2" in first
    assert first.count("@fan_") == 30
    second = text_of(client.get("/@carol/followers?page=2").get_data(as_text=True))
    assert second.count("@fan_") == 1
    assert "@fan_0" in second  # the oldest follower is on the last page


# --- the API ----------------------------------------------------------------------


def test_follow_and_unfollow_through_the_api(people, client, auth, csrf_headers):
    auth.login("carol")
    headers = csrf_headers()
    response = client.put("/api/v1/users/bob/follow", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"following": True, "follower_count": 1}
    # Idempotent.
    assert client.put("/api/v1/users/bob/follow", headers=headers).get_json()["follower_count"] == 1

    profile = client.get("/api/v1/users/bob").get_json()
    assert profile["follower_count"] == 1
    assert profile["is_following"] is True
    assert client.get("/api/v1/users/carol").get_json()["following_count"] == 1
    followers = client.get("/api/v1/users/bob/followers").get_json()
    assert [u["username"] for u in followers["items"]] == ["carol"]
    assert followers["total"] == 1
    following = client.get("/api/v1/users/carol/following").get_json()
    assert [u["display_name"] for u in following["items"]] == ["Bob Builder"]

    response = client.delete("/api/v1/users/bob/follow", headers=headers)
    assert response.get_json() == {"following": False, "follower_count": 0}
    assert client.delete("/api/v1/users/bob/follow", headers=headers).get_json()["following"] is False
    assert client.get("/api/v1/users/bob").get_json()["is_following"] is False
    assert counts(client.get("/@bob").get_data(as_text=True)) == (0, 0)


def test_api_refuses_following_yourself(people, client, auth, csrf_headers):
    auth.login("bob")
    response = client.put("/api/v1/users/bob/follow", headers=csrf_headers())
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "You cannot follow yourself."
    assert client.get("/api/v1/users/bob").get_json()["follower_count"] == 0


def test_api_follow_needs_authentication(people, client, csrf_headers):
    response = client.put("/api/v1/users/bob/follow", headers=csrf_headers())
    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == 401


def test_api_profile_is_public_and_404_for_unknown(people, client):
    body = client.get("/api/v1/users/bob").get_json()
    assert body["display_name"] == "Bob Builder"
    assert body["bio"] == "I build things.\nLive on Sundays."
    assert body["role"] == "creator"
    assert body["profile_url"] == "http://localhost/@bob"
    assert "email" not in body and "is_following" not in body
    response = client.get("/api/v1/users/ghost")
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "No one has this username."


def test_profile_edit_shows_on_the_profile(people, client, auth):
    auth.login("carol")
    response = submit(
        client, "/settings/profile", {"display_name": "Carol S.", "bio": "Soprano."}, action="/settings/profile"
    )
    assert response.headers["Location"] == "/settings/profile"
    html = client.get("/@carol").get_data(as_text=True)
    assert "<h1>Carol S.</h1>" in html
    assert '<p class="bio">Soprano.</p>' in html


def test_profile_edit_refuses_a_long_bio(people, client, auth):
    auth.login("carol")
    response = submit(
        client, "/settings/profile", {"display_name": "Carol", "bio": "x" * 301}, action="/settings/profile"
    )
    assert response.status_code == 422
    assert "The bio has at most 300 characters." in response.get_data(as_text=True)
    assert "<h1>Carol Singer</h1>" in client.get("/@carol").get_data(as_text=True)
