"""The RTMP listener against a real ffmpeg encoder: the key is checked before media."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import threading

import imageio_ffmpeg
import pytest

from livelite.media import amf0
from livelite.media.rtmp import PublishRefused, RtmpServer

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


class MemorySink:
    def __init__(self):
        self.buffer = io.BytesIO()
        self.closed = threading.Event()

    def write(self, data: bytes) -> None:
        self.buffer.write(data)

    def close(self, clean: bool = False) -> None:
        self.clean = clean
        self.closed.set()


@pytest.fixture
def server():
    calls = []
    sinks = {}

    def authorize(app, key, peer):
        calls.append((app, key))
        if key != "good-key":
            raise PublishRefused("unknown key")
        sinks[key] = MemorySink()
        return sinks[key]

    srv = RtmpServer("127.0.0.1", 0, authorize)
    srv.start()
    yield srv, calls, sinks
    srv.stop()


def push(port: int, path: str, seconds: float = 2) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "flv",
            f"rtmp://127.0.0.1:{port}/{path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def count_frames(flv: bytes) -> tuple[int, str]:
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-f", "flv", "-i", "pipe:0", "-map", "0:v", "-f", "null", "-"],
        input=flv,
        capture_output=True,
        timeout=60,
    )
    text = result.stderr.decode(errors="replace")
    counts = re.findall(r"frame=\s*(\d+)", text)
    return int(counts[-1]), text


def test_good_key_is_accepted_and_media_arrives_as_flv(server):
    srv, calls, sinks = server
    result = push(srv.port, "live/good-key", seconds=2)
    assert result.returncode == 0, result.stderr
    assert calls == [("live", "good-key")]
    sink = sinks["good-key"]
    assert sink.closed.wait(5)
    flv = sink.buffer.getvalue()
    assert flv.startswith(b"FLV\x01")
    frames, text = count_frames(flv)
    assert frames == 50, text  # 2 s at 25 fps, nothing lost
    assert "h264" in text and "aac" in text


def test_wrong_key_is_refused_before_any_media(server):
    srv, calls, sinks = server
    result = push(srv.port, "live/wrong-key", seconds=1)
    assert result.returncode != 0
    assert "Stream key refused" in result.stderr
    assert calls == [("live", "wrong-key")]
    assert sinks == {}


def test_unknown_application_is_rejected_without_asking_for_the_key(server):
    srv, calls, _ = server
    result = push(srv.port, "other/good-key", seconds=1)
    assert result.returncode != 0
    assert calls == []


def test_garbage_and_silent_clients_do_not_stop_the_server(server):
    srv, _, sinks = server
    with socket.create_connection(("127.0.0.1", srv.port)) as bad:
        bad.sendall(b"GET / HTTP/1.1\r\n\r\n")  # not RTMP version 3
        try:
            assert bad.recv(10) == b""  # closed on us
        except ConnectionResetError:
            pass  # also closed on us, before we read
    silent = socket.create_connection(("127.0.0.1", srv.port))
    try:
        result = push(srv.port, "live/good-key", seconds=1)
        assert result.returncode == 0, result.stderr
        assert sinks["good-key"].closed.wait(5)
    finally:
        silent.close()


@pytest.mark.parametrize(
    "value",
    [1.5, True, "text", None, {"a": 1.0, "b": {"c": "d"}}, [1.0, "x", None], "é" * 40000 * 2],
)
def test_amf0_round_trip(value):
    assert amf0.decode_all(amf0.encode("cmd", value)) == ["cmd", value]


@pytest.mark.parametrize("data", [b"\x02\x00\x05ab", b"\x03\x00\x01a", b"\x0d", b"\x00\x01"])
def test_amf0_rejects_truncated_or_unknown_values(data):
    with pytest.raises(amf0.AMFError):
        amf0.decode_all(data)
