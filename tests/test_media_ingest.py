"""FeedIngest against the real ffmpeg: publisher bytes in, HLS fMP4 that decodes out.

No app here: the ingest is a plain object over a folder, as the media manager uses it.
"""

from __future__ import annotations

import re
import threading

import pytest
from media_support import (
    FFMPEG,
    FPS,
    HEIGHT,
    WIDTH,
    clusters,
    decode,
    decode_segment,
    finish_push,
    recording,
    rtmp_push,
    video_codec_of_init,
    wait_for,
)

from livelite.media import hls
from livelite.media.ingest import FeedIngest
from livelite.media.rtmp import RtmpServer


@pytest.fixture
def ingests():
    """Make FeedIngests; any ffmpeg still running at the end is killed."""
    made: list[FeedIngest] = []

    def make(folder, *, input_format="webm", video_codec="h264") -> FeedIngest:
        ingest = FeedIngest(folder, input_format=input_format, video_codec=video_codec, ffmpeg=FFMPEG)
        made.append(ingest)
        return ingest

    yield make
    for ingest in made:
        ingest.kill()


def feed_all(ingest: FeedIngest, chunks: list[bytes]) -> None:
    for chunk in chunks:
        ingest.write(chunk)


def segment_count(folder, run: int = 1) -> int:
    return len(hls.parse_run(folder / f"run-{run:04d}.m3u8").segments)


def x264_options(segment: bytes) -> str:
    """The encoder settings x264 writes into the stream (an SEI): they survive a copy."""
    match = re.search(rb"options: ([^\x00]+)", segment)
    assert match, "no x264 SEI in the segment"
    return match.group(1).decode(errors="replace")


def test_h264_chunks_are_copied_into_one_second_segments_that_decode_at_source_size(tmp_path, ingests):
    folder = tmp_path / "feed"
    ingest = ingests(folder)
    chunks = clusters(recording("h264", seconds=4))
    assert len(chunks) == 4
    feed_all(ingest, chunks)
    ingest.finish()

    runs = hls.feed_runs(folder)
    assert [run.number for run in runs] == [1]
    assert [s.duration for s in runs[0].segments] == pytest.approx([1.0] * 4, abs=0.06)
    init = (folder / runs[0].init).read_bytes()
    assert video_codec_of_init(init) == "avc1"
    first = (folder / runs[0].segments[0].uri).read_bytes()
    # Copied, not encoded again: the recording's own ultrafast settings are still there.
    assert "subme=0" in x264_options(first)

    composed = folder / "composed.m3u8"
    composed.write_text(ingest.playlist(ended=True))
    assert decode(composed) == (4 * FPS, (WIDTH, HEIGHT))
    assert decode_segment(init, first, tmp_path) == (FPS, (WIDTH, HEIGHT))


def test_vp8_webm_is_transcoded_to_h264_in_one_second_segments(tmp_path, ingests):
    folder = tmp_path / "feed"
    ingest = ingests(folder, video_codec="vp8")
    assert ingest.transcoding
    feed_all(ingest, clusters(recording("vp8", seconds=4)))
    ingest.finish()

    (run,) = hls.feed_runs(folder)
    assert [s.duration for s in run.segments] == pytest.approx([1.0] * 4, abs=0.06)
    init = (folder / run.init).read_bytes()
    assert video_codec_of_init(init) == "avc1"
    # Encoded here by x264 (veryfast: subme=2), not the recording's VP8.
    assert "subme=2" in x264_options((folder / run.segments[0].uri).read_bytes())
    for segment in run.segments:
        # A keyframe every second: each segment decodes on its own, in full.
        data = (folder / segment.uri).read_bytes()
        assert decode_segment(init, data, tmp_path) == (FPS, (WIDTH, HEIGHT))


def test_finish_writes_the_last_segment_and_the_playlist_turns_vod(tmp_path, ingests):
    folder = tmp_path / "feed"
    ingest = ingests(folder)
    chunks = clusters(recording("h264", seconds=4))
    feed_all(ingest, chunks)
    wait_for(lambda: segment_count(folder) >= 3, message="the first segments never appeared")

    live = ingest.playlist(ended=False)
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in live
    assert "#EXT-X-ENDLIST" not in live
    # ffmpeg holds the last second until it knows it is over.
    assert hls.total_duration(folder) == pytest.approx(3.0, abs=0.1)

    ingest.finish()
    assert ingest.closed and ingest.process is None
    assert "#EXT-X-ENDLIST" in (folder / "run-0001.m3u8").read_text()
    assert hls.total_duration(folder) == pytest.approx(4.0, abs=0.1)
    ended = ingest.playlist(ended=True)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in ended
    assert ended.rstrip().endswith("#EXT-X-ENDLIST")
    ingest.write(chunks[0])  # after the end, nothing starts again
    assert ingest.process is None and hls.next_run_number(folder) == 2


def test_a_killed_ffmpeg_restarts_as_a_second_run_after_a_discontinuity(tmp_path, ingests):
    folder = tmp_path / "feed"
    ingest = ingests(folder)
    chunks = clusters(recording("h264", seconds=6))
    assert len(chunks) == 6
    feed_all(ingest, chunks[:3])
    wait_for(lambda: segment_count(folder) >= 2, message="the first run wrote no segments")
    ingest.kill()

    feed_all(ingest, chunks[3:])  # the publisher goes on as if nothing happened
    ingest.finish()

    runs = hls.feed_runs(folder)
    assert [run.number for run in runs] == [1, 2]
    assert ingest.health.restarts == 1
    playlist = ingest.playlist(ended=True)
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', playlist)
    assert maps == ["run-0001-init.mp4", "run-0002-init.mp4"]
    assert playlist.count("#EXT-X-DISCONTINUITY") == 1
    assert playlist.index("run-0001-00001.m4s") < playlist.index("#EXT-X-DISCONTINUITY")
    assert playlist.index("#EXT-X-DISCONTINUITY") < playlist.index("run-0002-init.mp4")
    # At most the second ffmpeg had not finished is lost.
    assert 6.0 - 1.5 <= hls.total_duration(folder) <= 6.0 + 0.1
    for run in runs:
        init = (folder / run.init).read_bytes()
        for segment in run.segments:
            frames, size = decode_segment(init, (folder / segment.uri).read_bytes(), tmp_path)
            assert size == (WIDTH, HEIGHT) and frames == pytest.approx(segment.duration * FPS, abs=1)


def test_a_new_ingest_on_the_same_folder_continues_the_run_numbers(tmp_path, ingests):
    folder = tmp_path / "feed"
    chunks = clusters(recording("h264", seconds=4))
    first = ingests(folder)
    feed_all(first, chunks[:2])
    first.finish()
    before = {p.name: p.read_bytes() for p in folder.glob("run-0001*")}
    assert len(before) == 4  # playlist, init, two segments

    second = ingests(folder)  # e.g. the process restarted while the host still sends
    feed_all(second, chunks)
    second.finish()

    assert [run.number for run in hls.feed_runs(folder)] == [1, 2]
    assert {p.name: p.read_bytes() for p in folder.glob("run-0001*")} == before
    assert segment_count(folder, 2) == 4
    assert hls.total_duration(folder) == pytest.approx(6.0, abs=0.1)
    assert second.playlist(ended=True).count("#EXT-X-DISCONTINUITY") == 1


def test_recent_frame_rate_is_the_source_frame_rate(tmp_path, ingests):
    folder = tmp_path / "feed"
    assert hls.recent_frame_rate(folder) is None  # nothing yet
    ingest = ingests(folder)
    feed_all(ingest, clusters(recording("h264", seconds=4, fps=15)))
    ingest.finish()
    assert hls.recent_frame_rate(folder) == pytest.approx(15, abs=0.5)
    assert ingest.health.output_fps == pytest.approx(15, abs=0.5)


class ListSink:
    """Stands where the media manager's sink goes: keeps each write (one FLV tag)."""

    def __init__(self):
        self.writes: list[bytes] = []
        self.closed = threading.Event()

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self, clean: bool = False) -> None:
        self.closed.set()


def test_flv_from_the_rtmp_listener_is_detected_as_h264_and_segmented(tmp_path, ingests):
    sink = ListSink()
    server = RtmpServer("127.0.0.1", 0, lambda _app, _key, _peer: sink)
    port = server.start()
    try:
        code, err = finish_push(rtmp_push(f"rtmp://127.0.0.1:{port}/live/any", seconds=3))
    finally:
        server.stop()
    assert code == 0, err
    assert sink.closed.wait(5)
    tags = sink.writes
    assert tags[0].startswith(b"FLV")

    folder = tmp_path / "feed"
    ingest = ingests(folder, input_format="flv", video_codec=None)
    ingest.write(tags[0])
    ingest.write(tags[1])  # header and metadata: the codec is not known yet
    assert ingest.process is None and ingest.video_codec is None
    for tag in tags[2:]:
        ingest.write(tag)
    assert ingest.video_codec == "h264"
    assert not ingest.transcoding
    ingest.finish()

    runs = hls.feed_runs(folder)
    assert len(runs) == 1
    assert hls.total_duration(folder) == pytest.approx(3.0, abs=0.1)
    composed = folder / "composed.m3u8"
    composed.write_text(ingest.playlist(ended=True))
    assert decode(composed) == (75, (WIDTH, HEIGHT))  # 3 s at 25 fps
    assert hls.recent_frame_rate(folder) == pytest.approx(25, abs=0.5)


def test_a_burst_after_a_stall_is_not_taken_for_a_high_bitrate(tmp_path):
    """A backlog read in one go arrives fast, but carries as much media as it took:
    the limit is judged per second of media, so a steady publisher is never cut off."""
    data = recording("h264", seconds=12)
    ingest = FeedIngest(tmp_path / "feed", input_format="webm", video_codec="h264", ffmpeg=FFMPEG)
    for chunk in clusters(data):
        ingest.write(chunk)  # everything at once, as after a long stall
    ingest.finish()
    source_kbps = len(data) * 8 / 1000 / 12
    # The arrival rate is a burst (writes go as fast as ffmpeg's pipe takes them, so how
    # fast depends on the machine's load: 2× is the floor that still makes the point).
    assert ingest.input_bitrate_kbps() > 2 * source_kbps
    media_kbps = ingest.media_bitrate_kbps(min_media_s=5)
    assert media_kbps == pytest.approx(source_kbps, rel=0.25)
    assert ingest.media_bitrate_kbps(min_media_s=60) is None  # too little media to judge
