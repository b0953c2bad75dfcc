"""The owner's replay pages: Settings → Replays, downloads, changes, deleting, posting
to the feed; the admins' storage page; the replays on a profile.

Replays are made by the real pipeline: the host's feed is filled by the app's ingest
(ffmpeg) from a recording, the live is ended through the media manager (whose
``live_ended`` listener makes the replay) and ``make_pending`` makes the MP4s as the
background queue would. Pages are read and forms sent the way a browser does
(tests/pages.py), CSRF tokens included.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from factories import PASSWORD, make_admin, make_user
from media_support import publish_recording
from pages import field_errors, find_form, flashes, submit, text_of
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import FileStatus, Live, Replay, ReplayVisibility, Role, Video, VideoStatus
from livelite.models.base import utcnow
from livelite.services import accounts, lives, replays, videos
from livelite.services.settings import set_setting

LIST = "/settings/replays"


@pytest.fixture
def site(app):
    """maker (a creator who goes live), fan (follows maker), stranger, and the admin."""
    with app.app_context():
        make_admin()
        maker = make_user("maker", role=Role.CREATOR, display_name="Maker")
        accounts.follow(make_user("fan", display_name="Fan"), maker)
        make_user("stranger", display_name="Stranger")
    yield app
    app.extensions["livelite.media"].shutdown()


# -- helpers -------------------------------------------------------------------------
def browser(app, username: str):
    """A browser of its own, logged in through the real form."""
    client = app.test_client()
    response = submit(client, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def recorded_replay(app, *, title: str = "Fractions", seconds: int = 3, mp4: bool = True) -> int:
    """A live of maker's that recorded ``seconds``, ended by the host, with its replay
    (made by the media manager's listener) and, unless ``mp4`` is False, its MP4s."""
    with app.app_context():
        live_id = lives.start_live(accounts.get_by_username("maker"), title=title).id
    publish_recording(app, live_id, seconds=seconds)
    app.extensions["livelite.media"].end_live(live_id, "host")
    with app.app_context():
        replay = replays.replay_of_live(db.session.get(Live, live_id))
        assert replay is not None, "the end of the live made no replay"
        if mp4:
            replays.make_pending()
        return replay.id


def replay_row(replay_id: int) -> Replay:
    db.session.expire_all()
    return db.session.get(Replay, replay_id)


def card_html(html: str, replay_id: int) -> str:
    """One replay's card on the list."""
    match = re.search(
        rf'<li class="card replay-card[^"]*" id="replay-{replay_id}".*?</li>\s*(?=<li class="card replay-card|</ol>)',
        html,
        re.S,
    )
    assert match, f"no card for replay {replay_id}"
    return match.group(0)


def visible_state(card: str, key: str) -> str:
    """The state a file row shows (its one part without ``hidden``)."""
    row = re.search(rf'<li class="replay-file" data-file="{key}" data-state="(\w+)">(.*?)</li>', card, re.S)
    assert row, f"no file row {key}"
    shown = re.findall(r'data-when="(\w+)"(?! hidden)\s*>', row.group(2))
    assert shown == [row.group(1)], shown
    return row.group(1)


def section(html: str, start: str, end: str) -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


# -- the list ------------------------------------------------------------------------------
def test_the_list_shows_a_ready_replay_with_its_figures_and_download(site):
    app = site
    replay_id = recorded_replay(app)
    owner = browser(app, "maker")
    response = owner.get(LIST)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    with app.app_context():
        replay = replay_row(replay_id)
        main = replay.main_feed
        size = replays.format_bytes(replay.size_bytes)
        clock = replays.clock(replay.duration_s)
        expires = replays.expires_at(replay)
        usage = replays.usage(accounts.get_by_username("maker"))
        assert main.mp4_status == FileStatus.READY and replay.size_bytes > main.mp4_size > 0
    card = card_html(html, replay_id)
    text = text_of(card)
    assert "Fractions" in text and clock in text and size in text and "Private" in text
    assert clock in ("0:02", "0:03")
    assert f"Deleted on {expires.strftime('%B')} {expires.day}, {expires.year}" in text
    assert "is-expiring" not in card  # 90 days away
    assert visible_state(card, f"feed-{main.id}") == "ready"
    assert f'href="/replays/{replay_id}/download/{main.id}"' in card
    assert f'href="/replays/{replay_id}/post"' in card and "data-needs-main hidden" not in card
    assert f'href="/replays/{replay_id}"' in card  # Watch
    assert f'src="/replays/{replay_id}/thumb.jpg"' in card
    # The storage meter: used of the 20 GB quota, with a bar.
    meter = text_of(section(html, 'class="card replay-storage"', "</section>"))
    assert f"{replays.format_bytes(usage.total_bytes)} of 20 GB used" in meter
    assert f"Replays: {size}" in meter
    assert '<progress class="storage-bar"' in html
    # And the settings menu leads here.
    assert 'href="/settings/replays" aria-current="page"' in html


def test_the_list_shows_files_waiting_being_made_and_failed(site):
    app = site
    replay_id = recorded_replay(app, mp4=False)
    owner = browser(app, "maker")
    with app.app_context():
        feed_id = replay_row(replay_id).main_feed.id
    card = card_html(owner.get(LIST).get_data(as_text=True), replay_id)
    assert visible_state(card, f"feed-{feed_id}") == "pending"
    assert "Waiting to be made" in text_of(card)
    # Not postable yet: the Post button waits for the MP4 (manage.js shows it then).
    assert re.search(r'href="/replays/\d+/post" data-needs-main hidden', card)

    with app.app_context():
        feed = replay_row(replay_id).main_feed
        feed.mp4_status, feed.mp4_progress = FileStatus.PROCESSING, 40
        db.session.commit()
    card = card_html(owner.get(LIST).get_data(as_text=True), replay_id)
    assert visible_state(card, f"feed-{feed_id}") == "processing"
    assert '<progress max="100" value="40"' in card and "Making the MP4… 40%" in text_of(card)

    with app.app_context():
        feed = replay_row(replay_id).main_feed
        feed.mp4_status, feed.mp4_error = FileStatus.FAILED, "disk_full"
        db.session.commit()
    html = owner.get(LIST).get_data(as_text=True)
    card = card_html(html, replay_id)
    assert visible_state(card, f"feed-{feed_id}") == "failed"
    assert "The server ran out of disk space while making this file." in text_of(card)
    find_form(html, f"/replays/{replay_id}/retry")

    # The page's script reads the same states from the progress route.
    body = owner.get(f"{LIST}/progress?ids={replay_id},999999").get_json()
    (payload,) = body["replays"]
    assert payload["id"] == replay_id and payload["feeds"][0]["status"] == "failed"
    assert "disk space" in payload["feeds"][0]["error"]
    # Nobody else's replays through it.
    assert browser(app, "stranger").get(f"{LIST}/progress?ids={replay_id}").get_json() == {"replays": []}


def test_a_replay_near_its_deletion_is_flagged_and_an_empty_list_says_what_comes(site):
    app = site
    owner = browser(app, "maker")
    html = owner.get(LIST).get_data(as_text=True)
    assert "Your lives are recorded. When one ends, its replay appears here." in text_of(html)
    assert "replay-card" not in html
    with app.app_context():
        set_setting("STORAGE_QUOTA_MB", 0)
    assert "no limit" in text_of(owner.get(LIST).get_data(as_text=True))

    replay_id = recorded_replay(app, mp4=False)
    with app.app_context():
        replay = replay_row(replay_id)
        replay.created_at = utcnow() - timedelta(days=85)  # 5 days left of 90, warned at 7
        db.session.commit()
    card = card_html(owner.get(LIST).get_data(as_text=True), replay_id)
    assert 'class="card replay-card is-expiring"' in card
    assert 'class="replay-expiry is-soon"' in card
    assert "Download it or post it to keep it." in text_of(card)


def test_the_list_needs_a_login(site):
    response = site.test_client().get(LIST)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# -- downloads ---------------------------------------------------------------------------
def test_download_sends_the_mp4_as_an_attachment_named_after_the_title_and_day(site):
    app = site
    replay_id = recorded_replay(app)
    with app.app_context():
        replay = replay_row(replay_id)
        main = replay.main_feed
        day = replay.live.started_at.date().isoformat()
        mp4 = (Path(app.config["MEDIA_ROOT"]) / main.mp4_path).read_bytes()
    url = f"/replays/{replay_id}/download/{main.id}"
    owner = browser(app, "maker")
    response = owner.get(url)
    assert response.status_code == 200
    assert response.mimetype == "video/mp4"
    assert response.data == mp4 and b"ftyp" in mp4[:16]
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"fractions-{day}.mp4\"; filename*=UTF-8''Fractions%20{day}.mp4"
    )
    # Range: a resumed download, the preview seeking.
    partial = owner.get(url, headers={"Range": "bytes=100-199"})
    assert partial.status_code == 206 and partial.data == mp4[100:200]

    # A title in any language: an ASCII name, and the real one for browsers that read it.
    edit = submit(
        owner,
        LIST,
        {f"replay-{replay_id}-title": "Été à Paris / cours n°2"},
        action=f"/replays/{replay_id}/edit",
    )
    assert edit.status_code == 302
    disposition = owner.get(url).headers["Content-Disposition"]
    assert f'filename="ete-a-paris-cours-n2-{day}.mp4"' in disposition
    assert (
        f"filename*=UTF-8''%C3%89t%C3%A9%20%C3%A0%20Paris%20-%20cours%20n%C2%B02%20{day}.mp4" in disposition
    )

    # An admin may download it too.
    assert browser(app, "siteadmin").get(url).data == mp4

    # Behind nginx, the app checks and nginx sends the bytes.
    app.config["X_ACCEL_REDIRECT_PREFIX"] = "/protected-media/"
    accel = owner.get(url)
    assert accel.headers["X-Accel-Redirect"] == f"/protected-media/{main.mp4_path}"
    assert accel.data == b"" and "attachment" in accel.headers["Content-Disposition"]


def test_downloads_are_not_found_for_anyone_but_the_owner_and_admins(site):
    app = site
    replay_id = recorded_replay(app)
    with app.app_context():
        replay = replay_row(replay_id)
        url = f"/replays/{replay_id}/download/{replay.main_feed.id}"
        replays.update(replay, replay.owner, visibility="public")
    # Followers and strangers may watch a public replay, not take its files.
    for username in ("fan", "stranger"):
        client = browser(app, username)
        assert client.get(f"/replays/{replay_id}").status_code == 200
        response = client.get(url)
        assert response.status_code == 404 and b"ftyp" not in response.data
    assert app.test_client().get(url).status_code == 404
    # No side-by-side file for a live without guests; no such feed.
    owner = browser(app, "maker")
    assert owner.get(f"/replays/{replay_id}/download/composed").status_code == 404
    assert owner.get(f"/replays/{replay_id}/download/999999").status_code == 404


def test_a_download_not_ready_yet_says_so(site):
    app = site
    replay_id = recorded_replay(app, mp4=False)
    with app.app_context():
        feed_id = replay_row(replay_id).main_feed.id
    response = browser(app, "maker").get(f"/replays/{replay_id}/download/{feed_id}")
    assert response.status_code == 404
    assert "This MP4 is not ready yet" in text_of(response.get_data(as_text=True))


# -- rename, visibility, delete, retry -------------------------------------------------------
def test_the_owner_renames_a_replay_and_chooses_who_can_watch(site):
    app = site
    replay_id = recorded_replay(app, mp4=False)
    owner = browser(app, "maker")
    action = f"/replays/{replay_id}/edit"
    fan = browser(app, "fan")
    assert fan.get(f"/replays/{replay_id}").status_code == 404  # private

    response = submit(
        owner,
        LIST,
        {f"replay-{replay_id}-title": "Fractions, part 1", f"replay-{replay_id}-visibility": "followers"},
        action=action,
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{LIST}#replay-{replay_id}")
    html = owner.get(LIST).get_data(as_text=True)
    assert "“Fractions, part 1” is saved." in flashes(html)
    with app.app_context():
        replay = replay_row(replay_id)
        assert (replay.title, replay.visibility) == ("Fractions, part 1", ReplayVisibility.FOLLOWERS)
    assert "Followers" in text_of(card_html(html, replay_id))
    assert fan.get(f"/replays/{replay_id}").status_code == 200

    # An empty title is refused on the card itself, the form open, the page otherwise intact.
    response = submit(owner, LIST, {f"replay-{replay_id}-title": "  "}, action=action)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, f"replay-{replay_id}-title") == ["Give your replay a title."]
    assert '<details class="replay-edit" open>' in card_html(html, replay_id)
    with app.app_context():
        assert replay_row(replay_id).title == "Fractions, part 1"


def test_changes_are_refused_to_others_and_without_the_csrf_token(site):
    app = site
    replay_id = recorded_replay(app)
    with app.app_context():
        replay = replay_row(replay_id)
        replays.update(replay, replay.owner, visibility="public")
    owner = browser(app, "maker")
    page = owner.get(LIST).get_data(as_text=True)
    edit_form = find_form(page, f"/replays/{replay_id}/edit").values()
    assert edit_form[f"replay-{replay_id}-csrf_token"]
    stranger, fan = browser(app, "stranger"), browser(app, "fan")
    stranger_token = re.search(
        r'name="csrf-token" content="([^"]+)"', stranger.get("/").get_data(as_text=True)
    ).group(1)
    attempts = {
        f"/replays/{replay_id}/edit": {
            f"replay-{replay_id}-title": "Hacked",
            f"replay-{replay_id}-csrf_token": stranger_token,
        },
        f"/replays/{replay_id}/delete": {"csrf_token": stranger_token},
        f"/replays/{replay_id}/retry": {"csrf_token": stranger_token},
        f"/replays/{replay_id}/post": {"csrf_token": stranger_token, "title": "Mine now"},
    }
    for url, data in attempts.items():
        # A viewer of a public replay: it exists for them, but is not theirs.
        assert stranger.post(url, data=data).status_code == 403, url
        assert fan.get(url).status_code in (403, 405), url
    assert stranger.get(f"/replays/{replay_id}/post").status_code == 403
    # Private again: for them it does not exist.
    with app.app_context():
        replays.update(replay_row(replay_id), accounts.get_by_username("maker"), visibility="private")
    for url, data in attempts.items():
        assert stranger.post(url, data=data).status_code == 404, url

    # The owner without the token: nothing changes.
    response = owner.post(
        f"/replays/{replay_id}/edit",
        data={**edit_form, f"replay-{replay_id}-csrf_token": "x", f"replay-{replay_id}-title": "No token"},
    )
    assert response.status_code == 400
    assert owner.post(f"/replays/{replay_id}/delete", data={}).status_code == 400
    assert owner.post(f"/replays/{replay_id}/retry", data={}).status_code == 400
    with app.app_context():
        replay = replay_row(replay_id)
        assert replay.title == "Fractions" and not replay.is_deleted
    assert (
        owner.post(
            f"/replays/{replay_id}/edit", data={**edit_form, f"replay-{replay_id}-title": "With token"}
        ).status_code
        == 302
    )
    with app.app_context():
        assert replay_row(replay_id).title == "With token"

    # Admins manage anyone's replay (not post it).
    admin = browser(app, "siteadmin")
    admin_token = re.search(
        r'name="csrf-token" content="([^"]+)"', admin.get("/").get_data(as_text=True)
    ).group(1)
    response = admin.post(
        f"/replays/{replay_id}/edit",
        data={
            f"replay-{replay_id}-title": "Renamed by staff",
            f"replay-{replay_id}-visibility": "private",
            f"replay-{replay_id}-csrf_token": admin_token,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        assert replay_row(replay_id).title == "Renamed by staff"
    assert admin.get(f"/replays/{replay_id}/post").status_code == 403


def test_deleting_asks_first_then_removes_every_file(site):
    app = site
    replay_id = recorded_replay(app)
    root = Path(app.config["MEDIA_ROOT"])
    with app.app_context():
        replay = replay_row(replay_id)
        folders = [root / replay.files_dir, root / replay.main_feed.media_dir]
        before = replays.usage(replay.owner).replays_bytes
    assert all(any(folder.iterdir()) for folder in folders) and before > 0
    owner = browser(app, "maker")
    card = card_html(owner.get(LIST).get_data(as_text=True), replay_id)
    assert f'href="/replays/{replay_id}/delete"' in card

    confirm = owner.get(f"/replays/{replay_id}/delete")
    text = text_of(confirm.get_data(as_text=True))
    assert "Delete “Fractions”?" in text and "cannot be undone" in text
    assert "Videos you post to your feed from a replay stay when the replay is deleted." in text
    response = submit(owner, f"/replays/{replay_id}/delete", action=f"/replays/{replay_id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith(LIST)
    html = owner.get(LIST).get_data(as_text=True)
    assert "The replay “Fractions” is deleted." in flashes(html)
    assert f'id="replay-{replay_id}"' not in html
    assert not any(folder.exists() for folder in folders)
    with app.app_context():
        assert replay_row(replay_id).is_deleted
        assert replays.usage(accounts.get_by_username("maker")).replays_bytes == 0
    # Gone for its pages too.
    assert owner.get(f"/replays/{replay_id}/delete").status_code == 404


def test_retry_makes_a_failed_file_again(site):
    app = site
    replay_id = recorded_replay(app, mp4=False)
    with app.app_context():
        feed = replay_row(replay_id).main_feed
        feed.mp4_status, feed.mp4_error = FileStatus.FAILED, "ffmpeg_failed"
        db.session.commit()
    owner = browser(app, "maker")
    response = submit(owner, LIST, action=f"/replays/{replay_id}/retry")
    assert response.status_code == 302
    html = owner.get(LIST).get_data(as_text=True)
    assert "The files of “Fractions” are being made again." in flashes(html)
    with app.app_context():
        feed = replay_row(replay_id).main_feed
        assert (feed.mp4_status, feed.mp4_error) == (FileStatus.PENDING, None)
        replays.make_pending()
        feed_id = replay_row(replay_id).main_feed.id
    assert (
        visible_state(card_html(owner.get(LIST).get_data(as_text=True), replay_id), f"feed-{feed_id}")
        == "ready"
    )


# -- posting to the feed -------------------------------------------------------------------------
def test_the_post_form_shows_each_error_on_its_field_and_keeps_what_was_typed(site):
    app = site
    replay_id = recorded_replay(app, seconds=4)
    owner = browser(app, "maker")
    url = f"/replays/{replay_id}/post"
    page = owner.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    form = find_form(html, None).values()
    assert form["title"] == "Fractions"
    text = text_of(html)
    assert "The replay lasts 0:0" in text and "Videos in the feed last at most 10 min" in text
    assert '<video class="replay-preview"' in html

    def post(**data):
        response = owner.post(url, data={**form, "caption": "Halves and quarters", **data})
        assert response.status_code == 422
        return response.get_data(as_text=True)

    html = post(trim_start="one minute")
    assert field_errors(html, "trim_start") == ["Enter a time like 1:05 or a number of seconds."]
    assert "Halves and quarters" in html  # nothing typed is lost
    html = post(trim_start="0:03", trim_end="0:02")
    assert field_errors(html, "trim_end")[0].startswith("End after the start and at most at 0:0")
    assert 'value="0:03"' in html and 'value="0:02"' in html
    html = post(title="x" * 101)
    assert field_errors(html, "title") == ["Titles have at most 100 characters."]
    with app.app_context():
        set_setting("VIDEO_MAX_SECONDS", 2)
    html = post(trim_start="", trim_end="")
    assert field_errors(html, "trim_end")[0].startswith("Videos in the feed last at most 2 s;")
    with app.app_context():
        assert db.session.scalars(select(Video)).all() == []


def test_posting_a_part_makes_a_video_of_that_part(site):
    app = site
    replay_id = recorded_replay(app, seconds=4)
    owner = browser(app, "maker")
    url = f"/replays/{replay_id}/post"
    response = submit(
        owner,
        url,
        {"title": "The best bit", "caption": "From tonight", "trim_start": "0:01", "trim_end": "3"},
    )
    assert response.status_code == 302
    with app.app_context():
        video = db.session.scalars(select(Video)).one()
        assert response.headers["Location"].endswith(f"/v/{video.id}")
        assert (video.status, video.replay_id, video.title) == (
            VideoStatus.PROCESSING,
            replay_id,
            "The best bit",
        )
        assert (video.trim_start_s, video.trim_end_s) == (1.0, 3.0)
        video_id = video.id
    page = owner.get(f"/v/{video_id}").get_data(as_text=True)
    assert "Your video is being prepared" in text_of(page) and "The best bit" in page
    with app.app_context():
        done = videos.process(video_id)
        assert done.status == VideoStatus.READY
        assert abs(done.duration_s - 2.0) <= 0.5
    page = owner.get(f"/v/{video_id}").get_data(as_text=True)
    assert '<h1 class="video-title">The best bit</h1>' in page and "LIVE replay" in text_of(page)


def test_the_post_form_waits_for_the_mp4(site):
    app = site
    replay_id = recorded_replay(app, mp4=False)
    html = browser(app, "maker").get(f"/replays/{replay_id}/post").get_data(as_text=True)
    assert "still being made" in text_of(html) and "data-replay-wait" in html
    assert re.search(r'<button type="submit" class="button primary" disabled>', html)


# -- admins' storage page --------------------------------------------------------------------------
def test_the_storage_page_is_for_admins_and_shows_the_figures(site):
    app = site
    replay_id = recorded_replay(app)
    assert browser(app, "maker").get("/admin/storage").status_code == 403
    anonymous = app.test_client().get("/admin/storage")
    assert anonymous.status_code == 302
    admin = browser(app, "siteadmin")
    response = admin.get("/admin/storage")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    with app.app_context():
        size = replays.format_bytes(replay_row(replay_id).size_bytes)
        figures = replays.site_storage()
    text = text_of(html)
    assert f"{replays.format_bytes(figures['disk_free_bytes'])} free" in text
    assert "1 replay kept" in text and "20 GB" in text
    row = text_of(section(html, "<tbody>", "</tbody>"))
    assert "Maker" in row and "@maker" in row and size in row and "under 1%" in row
    assert 'href="/admin/storage" aria-current="page"' in html


# -- the profile's replays -------------------------------------------------------------------------
def test_a_profile_shows_the_replays_its_viewer_may_watch(site):
    app = site
    public_id = recorded_replay(app, title="Open class")
    with app.app_context():
        maker = accounts.get_by_username("maker")
        replays.update(replay_row(public_id), maker, visibility="public")
        # Two more lives, their replays rows as the pipeline leaves them.
        for title, visibility in (("Members only", "followers"), ("Rehearsal", "private")):
            live = lives.start_live(maker, title=title)
            lives.end_live(live, "host")
            db.session.add(
                Replay(
                    live_id=live.id,
                    owner_id=maker.id,
                    title=title,
                    visibility=ReplayVisibility(visibility),
                    duration_s=62,
                    created_at=live.ended_at,
                )
            )
        db.session.commit()

    def shown(client) -> list[str]:
        html = client.get("/@maker").get_data(as_text=True)
        return re.findall(
            r'<strong class="replay-card-title">(.*?)</strong>',
            section(html, 'id="replays-title"', "</section>"),
        )

    assert shown(app.test_client()) == ["Open class"]
    assert shown(browser(app, "stranger")) == ["Open class"]
    assert shown(browser(app, "fan")) == ["Members only", "Open class"]
    owner = browser(app, "maker")
    assert shown(owner) == ["Rehearsal", "Members only", "Open class"]
    html = owner.get("/@maker").get_data(as_text=True)
    replays_part = section(html, 'id="replays-title"', "</section>")
    assert "Private" in text_of(replays_part) and f'href="/replays/{public_id}"' in replays_part
    assert "1:02" in text_of(replays_part)
