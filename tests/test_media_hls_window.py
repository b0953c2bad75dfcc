"""The live playlist is a sliding window whose numbering matches the full recording."""

from __future__ import annotations

from pathlib import Path

from livelite.media import hls


def write_run(folder: Path, number: int, segments: int, ended: bool = True) -> None:
    name = f"run-{number:04d}"
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        f'#EXT-X-MAP:URI="{name}-init.mp4"',
    ]
    for i in range(segments):
        lines += ["#EXTINF:1.000000,", f"{name}-{i:05d}.m4s"]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    (folder / f"{name}.m3u8").write_text("\n".join(lines) + "\n")


def uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_live_window_keeps_numbers_and_discontinuities_of_the_full_list(tmp_path):
    write_run(tmp_path, 1, 10)
    write_run(tmp_path, 2, 5, ended=False)  # ffmpeg restarted after 10 segments
    live = hls.compose(tmp_path, ended=False, window=6)
    assert uris(live) == ["run-0001-00009.m4s"] + [f"run-0002-{i:05d}.m4s" for i in range(5)]
    assert "#EXT-X-MEDIA-SEQUENCE:9" in live  # segment 9 of the whole recording
    assert "#EXT-X-DISCONTINUITY-SEQUENCE" not in live  # the window starts in run 1
    assert live.count("#EXT-X-DISCONTINUITY\n") == 1
    assert live.index('URI="run-0001-init.mp4"') < live.index('URI="run-0002-init.mp4"')
    assert "#EXT-X-PLAYLIST-TYPE" not in live and "#EXT-X-ENDLIST" not in live

    later = hls.compose(tmp_path, ended=False, window=3)
    assert uris(later) == ["run-0002-00002.m4s", "run-0002-00003.m4s", "run-0002-00004.m4s"]
    assert "#EXT-X-MEDIA-SEQUENCE:12" in later and "#EXT-X-DISCONTINUITY-SEQUENCE:1" in later
    assert "#EXT-X-DISCONTINUITY\n" not in later

    replay = hls.compose(tmp_path, ended=True, window=6)  # the window never applies to the replay
    assert (
        len(uris(replay)) == 15
        and "#EXT-X-PLAYLIST-TYPE:VOD" in replay
        and "#EXT-X-MEDIA-SEQUENCE:0" in replay
    )


def test_a_changed_run_playlist_is_read_again(tmp_path):
    write_run(tmp_path, 1, 2, ended=False)
    assert len(hls.feed_runs(tmp_path)[0].segments) == 2
    write_run(tmp_path, 1, 3, ended=False)  # ffmpeg appended a segment (size changes)
    assert len(hls.feed_runs(tmp_path)[0].segments) == 3
