"""Short videos over HTTP: the upload page, the video page and its files, the event
card's RSVP, the profile grid, deleting, the story viewer, and the API."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from factories import make_admin, make_token, make_user
from flask import render_template_string
from pages import field_errors, find_form, flashes, meta_csrf_token, text_of
from video_media import clip, png_bytes

from livelite.extensions import db
from livelite.models import Role, Rsvp, User, Video, VideoStatus
from livelite.models.base import utcnow
from livelite.services import accounts, events, videos
from livelite.services.settings import set_setting


@pytest.fixture
def site(app):
    with app.app_context():
        admin = make_admin()
        carla = make_user("carla", display_name="Carla", role=Role.CREATOR)
        make_user("fred", display_name="Fred")
        event = events.create_event(
            carla, title="Fractions live", starts_at=utcnow() + timedelta(days=2), duration_minutes=60
        )
        app.config["TEST_EVENT_ID"] = event.id
        app.config["TEST_ADMIN"] = admin.username
    return app


def get(username: str) -> User:
    return accounts.get_by_username(username)


def post_upload(client, data: bytes, *, filename="clip.mp4", json=False, **fields):
    page = client.get("/videos/new")
    assert page.status_code == 200
    form = find_form(page.get_data(as_text=True), "/videos/new")
    values = {**form.values(), **fields, "file": (io.BytesIO(data), filename)}
    headers = {"Accept": "application/json"} if json else {}
    return client.post("/videos/new", data=values, content_type="multipart/form-data", headers=headers)


def ready_video(app, username="carla", **kwargs) -> int:
    with app.app_context():
        video = videos.upload(get(username), io.BytesIO(clip(2)), **kwargs)
        return videos.process(video.id).id


def count_videos(app) -> int:
    with app.app_context():
        return db.session.query(Video).count()


# -- upload page -------------------------------------------------------------------
def test_upload_page_posts_a_video_and_the_creator_follows_its_conversion(site, client, auth):
    auth.login("carla")
    page = client.get("/videos/new").get_data(as_text=True)
    assert "Fractions live" in page  # the event select offers the creator's event
    response = post_upload(
        client, clip(3), caption="Watch this", event_id=str(site.config["TEST_EVENT_ID"]), kind="video"
    )
    assert response.status_code == 302
    video_url = response.headers["Location"]
    video_id = int(re.search(r"/v/(\d+)$", video_url).group(1))
    processing = client.get(video_url).get_data(as_text=True)
    assert "Your video is being prepared" in processing and f'data-video-progress="{video_id}"' in processing
    # Others cannot see it, nor its files, nor its status, until it is ready.
    auth.logout()
    assert client.get(video_url).status_code == 404
    auth.login("fred")
    assert client.get(video_url).status_code == 404
    assert client.get(f"/api/v1/videos/{video_id}").status_code == 404
    assert client.get(f"/v/{video_id}/file").status_code == 404
    assert "Watch this" not in client.get("/@carla").get_data(as_text=True)
    with site.app_context():
        videos.process(video_id)
    shown = client.get(video_url).get_data(as_text=True)
    assert f'src="/v/{video_id}/file"' in shown and "controls" in shown and "Watch this" in text_of(shown)
    assert "Fractions live" in shown and "Carla" in shown
    grid = client.get("/@carla").get_data(as_text=True)
    assert f'href="/v/{video_id}"' in grid and f'src="/v/{video_id}/thumb.jpg"' in grid


def test_the_upload_page_shows_each_refusal_under_the_file_field(site, client, auth):
    auth.login("fred")
    response = post_upload(client, b"just some text\n" * 50, filename="movie.mp4")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "file") == [
        "This file is not a video we can read. Upload an MP4, MOV or WebM video."
    ]
    assert "You have no upcoming LIVE events" in html  # fred has none
    json_response = post_upload(client, png_bytes(), filename="pic.png", json=True)
    assert json_response.status_code == 422
    assert json_response.get_json()["errors"] == {
        "file": ["This is a picture, not a video. Pictures can be posted as a story."]
    }
    other_event = str(site.config["TEST_EVENT_ID"])  # carla's, not fred's
    refused = post_upload(client, clip(3), json=True, event_id=other_event)
    assert refused.get_json()["errors"] == {"event_id": ["Choose one of your own upcoming events."]}
    assert count_videos(site) == 0


def test_the_json_upload_answers_at_once_with_the_video_page(site, client, auth):
    auth.login("fred")
    response = post_upload(client, clip(3), json=True, caption="hi")
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "processing" and body["url"] == f"/v/{body['id']}"
    status = client.get(f"/api/v1/videos/{body['id']}").get_json()
    assert status["status"] == "processing" and status["progress"] == 0 and status["file_url"] is None


def test_the_size_limit_is_raised_for_uploads_only(site, client, auth):
    auth.login("fred")
    seventeen_mb = b"\x00" * (17 * 1024 * 1024)
    # Past the global 16 MB, an upload still reaches the checks (and is refused for
    # what it is, not for its size)...
    response = post_upload(client, seventeen_mb, json=True)
    assert response.status_code == 422
    assert "not a video" in response.get_json()["errors"]["file"][0]
    # ...while every other form keeps the global limit.
    token = meta_csrf_token(client.get("/settings/profile").get_data(as_text=True))
    other = client.post(
        "/settings/profile",
        data={"csrf_token": token, "avatar": (io.BytesIO(seventeen_mb), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert other.status_code == 413
    # Past the raised limit, the page says the limit.
    with site.app_context():
        set_setting("VIDEO_MAX_MB", 1)
        site.config["STORY_PHOTO_MAX_BYTES"] = 1024 * 1024
    too_big = post_upload(client, b"\x00" * (3 * 1024 * 1024))
    assert too_big.status_code == 302
    assert flashes(client.get(too_big.headers["Location"]).get_data(as_text=True)) == [
        "This file is too large: 1 MB at most."
    ]
    assert count_videos(site) == 0


def test_a_story_from_the_upload_page(site, client, auth):
    auth.login("carla")
    response = post_upload(client, png_bytes(), filename="p.png", kind="story", caption="Backstage")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your story is up for 24 hours." in flashes(page)
    assert "Backstage" in page and "Story" in text_of(page)


# -- watching, files, permissions ---------------------------------------------------
def test_files_answer_range_requests_for_those_who_may_see_them(site, client):
    video_id = ready_video(site)
    whole = client.get(f"/v/{video_id}/file")
    assert whole.status_code == 200 and whole.mimetype == "video/mp4"
    part = client.get(f"/v/{video_id}/file", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == whole.data[100:200]
    assert part.headers["Content-Range"].startswith("bytes 100-199/")
    thumb = client.get(f"/v/{video_id}/thumb.jpg")
    assert thumb.status_code == 200 and thumb.data[:3] == b"\xff\xd8\xff"


def test_rsvp_from_the_event_card_comes_back_to_the_video(site, client, auth):
    video_id = ready_video(site, event_id=site.config["TEST_EVENT_ID"], caption="See you there")
    anonymous = client.get(f"/v/{video_id}").get_data(as_text=True)
    assert "Log in to RSVP" in anonymous
    auth.login("fred")
    page = client.get(f"/v/{video_id}").get_data(as_text=True)
    event_id = site.config["TEST_EVENT_ID"]
    form = find_form(page, f"/events/{event_id}/rsvp")
    response = client.post(f"/events/{event_id}/rsvp", data=form.values())
    assert response.status_code == 302
    assert response.headers["Location"] == f"/v/{video_id}#video-{video_id}"
    with site.app_context():
        assert db.session.get(Rsvp, {"event_id": event_id, "user_id": get("fred").id}) is not None
    after = client.get(f"/v/{video_id}").get_data(as_text=True)
    assert "You’re going." in " ".join(flashes(after))
    assert find_form(after, f"/events/{event_id}/unrsvp")
    # A forged next (another site) falls back to the event page.
    values = find_form(after, f"/events/{event_id}/unrsvp").values()
    values["next"] = "https://evil.example/"
    assert client.post(f"/events/{event_id}/unrsvp", data=values).headers["Location"] == f"/events/{event_id}"


def test_the_card_partial_is_self_contained(site, client, auth):
    video_id = ready_video(site, event_id=site.config["TEST_EVENT_ID"], caption="Card caption")
    auth.login("fred")
    with site.test_request_context("/"):
        from flask_login import login_user

        login_user(get("fred"))
        video = db.session.get(Video, video_id)
        html = render_template_string('{% include "videos/_card.html" %}', video=video)
    assert 'muted playsinline loop preload="metadata"' in html
    assert f'poster="/v/{video_id}/thumb.jpg"' in html and "Card caption" in html
    assert f'action="/events/{site.config["TEST_EVENT_ID"]}/rsvp"' in html and 'name="csrf_token"' in html
    assert f'value="/#video-{video_id}"' in html


def test_only_the_creator_or_an_admin_deletes(site, client, auth):
    video_id = ready_video(site)
    auth.login("fred")
    page = client.get(f"/v/{video_id}").get_data(as_text=True)
    assert f'action="/v/{video_id}/delete"' not in page
    token = meta_csrf_token(page)
    # The page offers no delete button: a forged request is refused outright.
    refused = client.post(f"/v/{video_id}/delete", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "Only the creator of this video can delete it." in text_of(refused.get_data(as_text=True))
    assert count_videos(site) == 1
    auth.logout()
    auth.login("carla")
    page = client.get(f"/v/{video_id}").get_data(as_text=True)
    response = client.post(f"/v/{video_id}/delete", data=find_form(page, f"/v/{video_id}/delete").values())
    assert response.headers["Location"] == "/@carla"
    assert count_videos(site) == 0
    assert client.get(f"/v/{video_id}").status_code == 404


# -- stories -----------------------------------------------------------------------
def test_the_story_viewer_goes_from_story_to_story_then_to_the_next_person(site, client, auth):
    with site.app_context():
        carla, fred = get("carla"), get("fred")
        olga = make_user("olga", display_name="Olga")
        videos.upload(olga, io.BytesIO(png_bytes()), kind="story", now=utcnow() - timedelta(hours=2))
        first = videos.upload(carla, io.BytesIO(png_bytes()), kind="story", caption="One")
        videos.upload(carla, io.BytesIO(png_bytes()), kind="story", caption="Two")
        accounts.follow(fred, carla)
        accounts.follow(fred, olga)
        first_id = first.id
    auth.login("fred")
    with site.test_request_context("/"):
        from flask_login import login_user

        login_user(get("fred"))
        row = render_template_string('{% include "videos/_story_row.html" %}')
    assert row.index("/stories/@carla?row=1") < row.index("/stories/@olga?row=1")  # newest first
    page = client.get("/stories/@carla?row=1").get_data(as_text=True)
    assert "One" in page and 'href="/stories/@carla?i=1&amp;row=1"' in page
    second = client.get("/stories/@carla?i=1&row=1").get_data(as_text=True)
    assert "Two" in second and 'data-next-url="/stories/@olga?row=1"' in second
    assert 'href="/stories/@carla?i=0&amp;row=1"' in second
    # From the profile, the last story closes back to the profile.
    profile = client.get("/@carla").get_data(as_text=True)
    assert 'class="story-ring story-ring-xl" href="/stories/@carla"' in profile
    alone = client.get("/stories/@carla?i=1").get_data(as_text=True)
    assert 'data-next-url="/@carla"' in alone
    # Once expired, a story is gone everywhere, before the job even runs.
    with site.app_context():
        for story in db.session.query(Video).filter(Video.creator_id == get("carla").id):
            story.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    gone = client.get("/stories/@carla")
    assert gone.status_code == 302 and gone.headers["Location"] == "/@carla"
    assert client.get(f"/v/{first_id}").status_code == 404
    assert client.get(f"/v/{first_id}/file").status_code == 404
    assert "story-ring-xl" not in client.get("/@carla").get_data(as_text=True)
    assert [r["user"]["username"] for r in client.get("/api/v1/stories").get_json()] == ["olga"]


# -- API ---------------------------------------------------------------------------
def test_api_upload_status_list_and_delete_with_a_token(site, client):
    with site.app_context():
        writer = make_token(get("fred"), scopes=("read", "write"))
        reader = make_token(get("carla"), scopes=("read",))
    auth_w = {"Authorization": f"Bearer {writer}"}
    refused = client.post(
        "/api/v1/videos",
        data={"file": (io.BytesIO(clip(3)), "c.mp4")},
        headers={"Authorization": f"Bearer {reader}"},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 403
    bad = client.post(
        "/api/v1/videos",
        data={"file": (io.BytesIO(b""), "c.mp4"), "caption": "x"},
        headers=auth_w,
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["errors"]["file"] == ["The file is empty."]
    created = client.post(
        "/api/v1/videos",
        data={"file": (io.BytesIO(clip(3)), "c.mp4"), "caption": "From the API", "kind": "video"},
        headers=auth_w,
        content_type="multipart/form-data",
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["status"] == "processing" and body["caption"] == "From the API"
    assert client.get("/api/v1/users/fred/videos").get_json()["items"] == []  # not ready: hidden
    own = client.get("/api/v1/users/fred/videos", headers=auth_w).get_json()
    assert [v["id"] for v in own["items"]] == [body["id"]]
    with site.app_context():
        videos.process(body["id"])
    ready = client.get(f"/api/v1/videos/{body['id']}").get_json()
    assert ready["status"] == "ready" and ready["progress"] == 100
    assert ready["file_url"].endswith(f"/v/{body['id']}/file") and ready["thumbnail_url"]
    assert abs(ready["duration_s"] - 3) < 0.5
    listed = client.get("/api/v1/users/fred/videos").get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]
    assert (
        client.delete(
            f"/api/v1/videos/{body['id']}", headers={"Authorization": f"Bearer {reader}"}
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/videos/{body['id']}", headers=auth_w).status_code == 204
    assert client.get(f"/api/v1/videos/{body['id']}").status_code == 404


def test_api_stories_need_a_login(site, client):
    assert client.get("/api/v1/stories").status_code == 401


def test_the_openapi_document_describes_the_video_api(site, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"post"} <= set(spec["paths"]["/api/v1/videos"])
    assert {"get", "delete"} <= set(spec["paths"]["/api/v1/videos/{video_id}"])
    assert "get" in spec["paths"]["/api/v1/users/{username}/videos"]
    assert "get" in spec["paths"]["/api/v1/stories"]
    upload = spec["paths"]["/api/v1/videos"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


def test_a_processing_video_is_in_nobodys_feed_grid_but_its_creators(site, client, auth):
    with site.app_context():
        videos.upload(get("carla"), io.BytesIO(clip(2)), caption="Still converting")
        assert db.session.query(Video).one().status == VideoStatus.PROCESSING
    assert "Processing…" not in client.get("/@carla").get_data(as_text=True)
    auth.login("carla")
    assert "Processing… 0%" in client.get("/@carla").get_data(as_text=True)


def test_deleting_a_processing_video_strangers_get_404_admins_may(site, client):
    with site.app_context():
        video_id = videos.upload(get("carla"), io.BytesIO(clip(2))).id
        fred = make_token(get("fred"), scopes=("read", "write"))
        admin = make_token(get(site.config["TEST_ADMIN"]), scopes=("read", "write"))
    stranger = client.delete(f"/api/v1/videos/{video_id}", headers={"Authorization": f"Bearer {fred}"})
    assert stranger.status_code == 404  # not told that it exists
    assert count_videos(site) == 1
    done = client.delete(f"/api/v1/videos/{video_id}", headers={"Authorization": f"Bearer {admin}"})
    assert done.status_code == 204 and count_videos(site) == 0
