"""The lives and publishing services without HTTP: going live, stream keys, who may
watch, and the browser publisher's ordered chunks into a real ffmpeg."""

from __future__ import annotations

import pytest
from factories import make_admin, make_followers, make_user
from media_support import H264_MIME, clusters, recording
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.media import hls
from livelite.models import Live, LiveStatus, Role, Visibility
from livelite.services import accounts, lives, publishing
from livelite.services.errors import Conflict, PermissionDenied, ValidationFailed
from livelite.services.settings import set_setting

MAX_KBPS = 8000


@pytest.fixture
def ctx(app):
    with app.app_context():
        make_admin()
        yield app
        app.extensions["livelite.media"].shutdown()


@pytest.fixture
def creator(ctx):
    return make_user("maker", role=Role.CREATOR)


def live_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Live))


# -- start_live --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "Give your live a title."),
        ("   ", "Give your live a title."),
        ("x" * 101, "Titles have at most 100 characters."),
    ],
)
def test_start_live_needs_a_title_of_at_most_100_characters(creator, title, message):
    with pytest.raises(ValidationFailed) as caught:
        lives.start_live(creator, title=title)
    assert caught.value.errors == {"title": [message]}
    assert live_count() == 0


def test_a_title_of_100_characters_is_kept_trimmed(creator):
    live = lives.start_live(creator, title=f"  {'x' * 100}  ")
    assert live.title == "x" * 100


@pytest.mark.parametrize("visibility", ["public", "followers", "invite"])
def test_start_live_with_each_visibility(creator, visibility):
    live = lives.start_live(creator, title="Hello", visibility=visibility)
    stored = db.session.get(Live, live.id)
    assert stored.visibility == Visibility(visibility)
    assert stored.status == LiveStatus.LIVE and stored.started_at is not None
    assert stored.host_id == creator.id


def test_an_unknown_visibility_is_refused(creator):
    with pytest.raises(ValidationFailed) as caught:
        lives.start_live(creator, title="Hello", visibility="secret")
    assert list(caught.value.errors) == ["visibility"]
    assert live_count() == 0


def test_a_member_with_too_few_followers_is_refused_with_the_reason(ctx):
    set_setting("LIVE_MIN_FOLLOWERS", 3)
    member = make_user("newbie")
    make_followers(member, 2)
    with pytest.raises(PermissionDenied) as caught:
        lives.start_live(member, title="First live")
    assert caught.value.message == (
        "Going live needs 3 followers (you have 2) or live access granted by an admin."
    )
    assert live_count() == 0

    make_followers(member, 1)  # the third follower opens the door
    assert lives.start_live(member, title="First live").is_live


def test_a_15_year_old_creator_is_refused_for_age(ctx):
    young = make_user("teen", age=15, role=Role.CREATOR)
    with pytest.raises(PermissionDenied) as caught:
        lives.start_live(young, title="Too soon")
    assert caught.value.message == "You must be at least 16 to go live."
    assert live_count() == 0


def test_a_15_year_old_member_hears_every_reason(ctx):
    young = make_user("teen", age=15)
    with pytest.raises(PermissionDenied) as caught:
        lives.start_live(young, title="Too soon")
    assert "at least 16" in caught.value.message
    assert "Going live needs 1000 followers (you have 0)" in caught.value.message


def test_a_creator_goes_live(creator):
    live = lives.start_live(creator, title="Studio time")
    assert live.is_live
    assert lives.active_live_of(creator).id == live.id
    assert [current.id for current in lives.current_lives()] == [live.id]


def test_one_live_at_a_time_per_host(creator):
    first = lives.start_live(creator, title="One")
    with pytest.raises(Conflict) as caught:
        lives.start_live(creator, title="Two")
    assert caught.value.message == "You are already live. End that live first."
    lives.end_live(first, "host")
    assert lives.start_live(creator, title="Two").is_live


def test_the_site_limit_on_lives_at_the_same_time(creator):
    set_setting("MAX_CONCURRENT_LIVES", 1)
    other = make_user("other", role=Role.CREATOR)
    busy = lives.start_live(other, title="Busy")
    with pytest.raises(Conflict) as caught:
        lives.start_live(creator, title="Mine")
    assert "as many lives as it can carry" in caught.value.message
    lives.end_live(busy, "host")
    assert lives.start_live(creator, title="Mine").is_live


def test_no_live_starts_when_the_disk_is_short(creator):
    set_setting("MIN_FREE_DISK_MB", 10_000_000)  # 10 TB free: no test machine has that
    with pytest.raises(Conflict) as caught:
        lives.start_live(creator, title="Hello")
    assert caught.value.message == (
        "The server is short of disk space, so new lives cannot start. Tell the site admin."
    )
    assert live_count() == 0


# -- stream keys -------------------------------------------------------------------
def test_a_stream_key_is_made_once_and_stays(creator):
    key = lives.stream_key(creator).key
    assert key.startswith("live_") and len(key) > 30
    assert lives.stream_key(creator).key == key
    assert lives.user_for_stream_key(key).id == creator.id
    other = make_user("other")
    assert lives.stream_key(other).key != key


def test_rotating_the_key_retires_the_old_one(creator):
    old = lives.stream_key(creator).key
    new = lives.rotate_stream_key(creator).key
    assert new != old
    assert lives.stream_key(creator).key == new
    assert lives.user_for_stream_key(new).id == creator.id
    assert lives.user_for_stream_key(old) is None


@pytest.mark.parametrize("key", ["", "live_unknown", "x" * 65])
def test_unknown_keys_map_to_nobody(creator, key):
    lives.stream_key(creator)
    assert lives.user_for_stream_key(key) is None


# -- who may watch -----------------------------------------------------------------
@pytest.fixture
def audience(creator):
    """The host, a follower, a stranger, a banned follower and an admin."""
    follower, banned = make_followers(creator, 2)
    accounts.set_banned(banned, True)
    return {
        "host": creator,
        "follower": follower,
        "non_follower": make_user("stranger"),
        "banned": banned,
        "admin": accounts.get_by_username("siteadmin"),
    }


RIGHT, WRONG = "right", "wrong"
# (viewer, invite given) → public, followers, invite
WATCH_MATRIX = [
    ("anonymous", None, True, False, False),
    ("follower", None, True, True, False),
    ("non_follower", None, True, False, False),
    ("host", None, True, True, True),
    ("admin", None, True, True, True),
    ("banned", None, False, False, False),
    ("banned", RIGHT, False, False, False),
    ("anonymous", RIGHT, True, False, True),
    ("non_follower", RIGHT, True, False, True),
    ("anonymous", WRONG, True, False, False),
    ("follower", WRONG, True, True, False),
]


@pytest.mark.parametrize(("who", "invite", "public", "followers", "invite_only"), WATCH_MATRIX)
def test_who_may_watch(audience, who, invite, public, followers, invite_only):
    viewer = None if who == "anonymous" else audience[who]
    expected = {"public": public, "followers": followers, "invite": invite_only}
    for visibility, allowed in expected.items():
        live = lives.create_live(audience["host"], title=f"A {visibility} live", visibility=visibility)
        token = {None: None, RIGHT: live.invite_token, WRONG: live.invite_token[::-1] + "x"}[invite]
        assert lives.can_watch(live, viewer, token) is allowed, (visibility, who, invite)
        if not allowed:
            with pytest.raises(PermissionDenied):
                lives.require_watch(live, viewer, token)


def test_each_live_has_its_own_invite_token(creator):
    one = lives.create_live(creator, title="One", visibility="invite")
    two = lives.create_live(creator, title="Two", visibility="invite")
    assert len(one.invite_token) >= 16 and one.invite_token != two.invite_token
    assert not lives.can_watch(two, None, one.invite_token)


# -- MediaRecorder types -----------------------------------------------------------
@pytest.mark.parametrize(
    ("mime", "codec"),
    [
        ("video/webm;codecs=h264,opus", "h264"),
        ("video/webm;codecs=avc1.42E01E,opus", "h264"),
        ('video/webm; codecs="vp8, opus"', "vp8"),
        ("video/webm;codecs=vp9,opus", "vp9"),
        ("video/webm;codecs=vp09.00.10.08", "vp9"),
        ("video/x-matroska;codecs=avc1,opus", "h264"),
        ("VIDEO/WEBM;CODECS=VP8", "vp8"),
    ],
)
def test_recorder_types_we_take(mime, codec):
    assert publishing.parse_mime(mime) == codec


@pytest.mark.parametrize(
    "mime",
    [
        "video/mp4;codecs=avc1,opus",  # Chromium offers it; our ingest reads WebM
        "video/webm",  # the codec must be said
        "video/webm;codecs=av1,opus",
        "video/webm;codecs=opus,vp8",  # audio first: not a video track
        "audio/webm;codecs=opus",
        "video/webm;codecs=h264,opus;x=1",
        "",
        None,
    ],
)
def test_recorder_types_we_refuse(ctx, mime):
    with pytest.raises(ValidationFailed) as caught:
        publishing.parse_mime(mime)
    assert caught.value.errors == {"mime": ["Record WebM with H.264, VP8 or VP9 video."]}


# -- the publisher's chunks ----------------------------------------------------------
@pytest.fixture
def publishing_live(ctx, creator):
    media = ctx.extensions["livelite.media"]
    registry = ctx.extensions["livelite.publishing"]
    live = lives.start_live(creator, title="From the browser")
    return live, media, registry


def test_chunks_are_written_once_and_in_order(ctx, creator, publishing_live):
    live, media, registry = publishing_live
    state = publishing.start(creator, live.id, H264_MIME, "rec-1", media, registry, "sid-1")
    assert state.last_seq == 0
    feed = lives.get_feed(live, state.feed_id)
    assert (feed.input_format, feed.video_codec, feed.active) == ("webm", "h264", True)
    ingest = media.ingests[state.feed_id]
    chunks = clusters(recording("h264", seconds=4))

    def send(seq, sid="sid-1"):
        return publishing.chunk(sid, state.feed_id, seq, chunks[seq - 1], media, registry, MAX_KBPS)

    assert send(1).last_seq == 1
    assert send(1).last_seq == 1  # a resend after a reconnect: acknowledged...
    assert ingest.bytes_in == len(chunks[0])  # ...and not written again

    with pytest.raises(publishing.OutOfOrder) as gap:
        send(3)
    assert gap.value.last_seq == 1
    assert ingest.bytes_in == len(chunks[0])

    with pytest.raises(PermissionDenied):
        send(2, sid="someone-else")
    assert ingest.bytes_in == len(chunks[0])

    for seq in (2, 3, 2, 4):
        send(seq)
    assert registry.for_sid("sid-1", state.feed_id).last_seq == 4
    assert ingest.bytes_in == sum(map(len, chunks))

    media.end_live(live.id, "host")
    with pytest.raises(publishing.LiveEnded):
        publishing.chunk("sid-1", state.feed_id, 5, chunks[0], media, registry, MAX_KBPS)
    assert ingest.bytes_in == sum(map(len, chunks))
    # The whole recording, once: four one-second segments.
    assert hls.total_duration(media.feed_dir(feed)) == pytest.approx(4.0, abs=0.1)
    db.session.expire_all()  # the media manager ended it in its own session
    assert db.session.get(Live, live.id).end_reason == "host"


def test_a_reconnect_with_the_same_recorder_resumes_and_a_new_recorder_starts_over(
    ctx, creator, publishing_live
):
    live, media, registry = publishing_live
    chunks = clusters(recording("h264", seconds=4))
    state = publishing.start(creator, live.id, H264_MIME, "rec-1", media, registry, "sid-1")
    for seq in (1, 2):
        publishing.chunk("sid-1", state.feed_id, seq, chunks[seq - 1], media, registry, MAX_KBPS)

    resumed = publishing.start(creator, live.id, H264_MIME, "rec-1", media, registry, "sid-2")
    assert (resumed.feed_id, resumed.last_seq) == (state.feed_id, 2)
    with pytest.raises(PermissionDenied):  # the old connection no longer publishes
        publishing.chunk("sid-1", state.feed_id, 3, chunks[2], media, registry, MAX_KBPS)
    publishing.chunk("sid-2", state.feed_id, 3, chunks[2], media, registry, MAX_KBPS)

    fresh = publishing.start(creator, live.id, H264_MIME, "rec-2", media, registry, "sid-3")
    assert (fresh.feed_id, fresh.last_seq) == (state.feed_id, 0)
    for seq in (1, 2):
        publishing.chunk("sid-3", state.feed_id, seq, chunks[seq - 1], media, registry, MAX_KBPS)
    media.end_live(live.id, "host")
    folder = media.feed_dir(lives.get_feed(live, state.feed_id))
    assert [run.number for run in hls.feed_runs(folder)] == [1, 2]
    assert hls.total_duration(folder) == pytest.approx(5.0, abs=0.1)


def test_only_the_host_publishes(ctx, creator, publishing_live):
    live, media, registry = publishing_live
    stranger = make_user("stranger", role=Role.CREATOR)
    with pytest.raises(PermissionDenied):
        publishing.start(stranger, live.id, H264_MIME, "rec-1", media, registry, "sid-x")
    assert live.feeds == [] and media.ingests == {}
