"""An RTMP listener for OBS and other encoders that checks the stream key first.

ffmpeg's own ``-listen 1`` RTMP server accepts any path (MEDIA.md), so we speak the
protocol ourselves up to ``publish``: handshake, chunk stream, ``connect``,
``createStream``, ``publish <key>``. Only when ``authorize(app, key, peer)`` returns a
sink do we accept media; the audio, video and metadata messages are then rewritten as
an FLV stream into that sink (the ingest ffmpeg's stdin). A refused key gets
``NetStream.Publish.BadName`` and the connection is closed: no media byte is read into
a feed. Playback over RTMP is not offered (viewers use HLS).

Blocking sockets and threads are used on purpose: under eventlet's monkey patching
they are green, and without it (tests, tools) they still work.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from livelite.media import amf0

log = logging.getLogger("livelite.rtmp")

HANDSHAKE_SIZE = 1536
DEFAULT_CHUNK_SIZE = 128
OUT_CHUNK_SIZE = 4096
MAX_CHUNK_SIZE = 1 << 24
MAX_MESSAGE_SIZE = 8 << 20
WINDOW_ACK_SIZE = 2_500_000
# A client gets this long to complete the handshake and ask to publish.
AUTH_DEADLINE_S = 15.0
# A publishing encoder sends at least a few packets a second; silence this long ends it.
IDLE_TIMEOUT_S = 30.0
STREAM_ID = 1

# Message types
SET_CHUNK_SIZE, ABORT, ACK, USER_CONTROL, WINDOW_ACK, PEER_BANDWIDTH = 1, 2, 3, 4, 5, 6
AUDIO, VIDEO, DATA_AMF3, COMMAND_AMF3, DATA_AMF0, COMMAND_AMF0 = 8, 9, 15, 17, 18, 20

FLV_HEADER = b"FLV\x01\x05\x00\x00\x00\x09" + b"\x00\x00\x00\x00"


class RtmpError(Exception):
    """The peer broke the protocol; the connection ends."""


class PublishRefused(Exception):
    """Raised by ``authorize`` with a reason for the log (never sent to the peer)."""


@dataclass
class _ChunkState:
    timestamp: int = 0
    delta: int = 0
    length: int = 0
    type_id: int = 0
    stream_id: int = 0
    extended: bool = False
    buffer: bytearray = field(default_factory=bytearray)


def flv_tag(type_id: int, timestamp: int, payload: bytes) -> bytes:
    """One FLV tag plus its trailing PreviousTagSize."""
    size = len(payload)
    ts = timestamp & 0xFFFFFFFF
    header = struct.pack(
        ">B3sBBB3s",
        type_id,
        size.to_bytes(3, "big"),
        (ts >> 16) & 0xFF,
        (ts >> 8) & 0xFF,
        ts & 0xFF,
        b"\x00\x00\x00",
    )
    # FLV puts the high byte of the timestamp after the low 24 bits.
    header = header[:7] + bytes([(ts >> 24) & 0xFF]) + header[7:]
    return header + payload + struct.pack(">I", 11 + size)


class RtmpConnection:
    """One encoder connection, from handshake to the end of its publish."""

    def __init__(self, sock: socket.socket, peer, authorize, *, app_name: str = "live"):
        self.sock = sock
        self.peer = peer
        self.authorize = authorize
        self.app_name = app_name
        self.app = None
        self.in_chunk_size = DEFAULT_CHUNK_SIZE
        self.out_chunk_size = DEFAULT_CHUNK_SIZE
        self.chunks: dict[int, _ChunkState] = {}
        self.sink = None
        self.received = 0
        self.last_ack = 0
        self.peer_window = 0
        self.closing = False
        # FCUnpublish: a clean stop, but the encoder still sends deleteStream after it.
        self.unpublished = False
        self.started = time.monotonic()
        self.wrote_header = False

    # -- I/O ------------------------------------------------------------------
    def _read(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            if self.sink is None:
                remaining = AUTH_DEADLINE_S - (time.monotonic() - self.started)
                if remaining <= 0:
                    raise RtmpError("no publish before the deadline")
                self.sock.settimeout(remaining)
            else:
                self.sock.settimeout(IDLE_TIMEOUT_S)
            try:
                part = self.sock.recv(min(65536, n - len(data)))
            except TimeoutError:
                raise RtmpError("timed out") from None
            if not part:
                raise EOFError
            data += part
        self.received += n
        if self.peer_window and self.received - self.last_ack >= self.peer_window:
            self.last_ack = self.received
            self._send(2, ACK, 0, struct.pack(">I", self.received & 0xFFFFFFFF))
        return bytes(data)

    def _send(self, csid: int, type_id: int, stream_id: int, payload: bytes, timestamp: int = 0) -> None:
        """Send one message: a type-0 chunk header, then type-3 continuations."""
        out = bytearray([csid & 0x3F])
        out += timestamp.to_bytes(3, "big") + len(payload).to_bytes(3, "big") + bytes([type_id])
        out += struct.pack("<I", stream_id)
        for offset in range(0, len(payload), self.out_chunk_size):
            if offset:
                out.append(0xC0 | (csid & 0x3F))
            out += payload[offset : offset + self.out_chunk_size]
        self.sock.sendall(bytes(out))
        if type_id == SET_CHUNK_SIZE:
            self.out_chunk_size = struct.unpack(">I", payload)[0]

    def _command(self, *values, stream_id: int = 0) -> None:
        self._send(3 if stream_id == 0 else 5, COMMAND_AMF0, stream_id, amf0.encode(*values))

    # -- protocol -------------------------------------------------------------
    def run(self) -> None:
        try:
            self._handshake()
            while not self.closing:
                type_id, stream_id, timestamp, payload = self._read_message()
                self._dispatch(type_id, stream_id, timestamp, payload)
        except EOFError:
            pass
        except (RtmpError, amf0.AMFError, OSError) as exc:
            log.info("rtmp %s: connection ended: %s", self.peer, exc)
        except Exception:
            log.exception("rtmp %s: connection failed", self.peer)
        finally:
            self._finish()

    def _finish(self) -> None:
        if self.sink is not None:
            sink, self.sink = self.sink, None
            try:
                # A clean unpublish (OBS "Stop Streaming") differs from a dropped link.
                sink.close(clean=self.closing or self.unpublished)
            except Exception:
                log.exception("rtmp %s: closing the feed failed", self.peer)
        try:
            self.sock.close()
        except OSError:
            pass

    def _handshake(self) -> None:
        c0 = self._read(1)
        if c0[0] != 3:
            raise RtmpError(f"unsupported RTMP version {c0[0]}")
        c1 = self._read(HANDSHAKE_SIZE)
        # Simple handshake: version bytes zero so clients skip digest checks.
        s1 = struct.pack(">I", int(time.monotonic() * 1000) & 0xFFFFFFFF) + b"\x00" * 4
        s1 += os.urandom(HANDSHAKE_SIZE - 8)
        self.sock.sendall(b"\x03" + s1 + c1)
        self._read(HANDSHAKE_SIZE)  # C2, an echo of S1 we need not check

    def _read_message(self) -> tuple[int, int, int, bytes]:
        while True:
            b0 = self._read(1)[0]
            fmt, csid = b0 >> 6, b0 & 0x3F
            if csid == 0:
                csid = 64 + self._read(1)[0]
            elif csid == 1:
                b1, b2 = self._read(2)
                csid = 64 + b1 + b2 * 256
            state = self.chunks.get(csid)
            if state is None:
                if fmt != 0:
                    raise RtmpError(f"chunk stream {csid} starts without a full header")
                state = self.chunks[csid] = _ChunkState()
            starting = not state.buffer
            if fmt == 0:
                head = self._read(11)
                ts = int.from_bytes(head[0:3], "big")
                state.length = int.from_bytes(head[3:6], "big")
                state.type_id = head[6]
                state.stream_id = struct.unpack_from("<I", head, 7)[0]
                state.extended = ts == 0xFFFFFF
                if state.extended:
                    ts = struct.unpack(">I", self._read(4))[0]
                state.timestamp, state.delta = ts, 0
            elif fmt in (1, 2):
                head = self._read(7 if fmt == 1 else 3)
                delta = int.from_bytes(head[0:3], "big")
                if fmt == 1:
                    state.length = int.from_bytes(head[3:6], "big")
                    state.type_id = head[6]
                state.extended = delta == 0xFFFFFF
                if state.extended:
                    delta = struct.unpack(">I", self._read(4))[0]
                state.delta = delta
                state.timestamp = (state.timestamp + delta) & 0xFFFFFFFF
            else:
                if state.extended:
                    self._read(4)
                if starting:
                    state.timestamp = (state.timestamp + state.delta) & 0xFFFFFFFF
            if state.length > MAX_MESSAGE_SIZE:
                raise RtmpError(f"message of {state.length} bytes is too large")
            if fmt in (0, 1) and state.buffer and not starting:
                raise RtmpError("new message header in the middle of a message")
            take = min(self.in_chunk_size, state.length - len(state.buffer))
            state.buffer += self._read(take)
            if len(state.buffer) >= state.length:
                payload = bytes(state.buffer)
                state.buffer.clear()
                return state.type_id, state.stream_id, state.timestamp, payload

    def _dispatch(self, type_id: int, stream_id: int, timestamp: int, payload: bytes) -> None:
        if type_id == SET_CHUNK_SIZE:
            size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            if not 1 <= size <= MAX_CHUNK_SIZE:
                raise RtmpError(f"bad chunk size {size}")
            self.in_chunk_size = size
        elif type_id == WINDOW_ACK:
            self.peer_window = struct.unpack(">I", payload[:4])[0]
        elif type_id in (ABORT, ACK, USER_CONTROL, PEER_BANDWIDTH):
            pass
        elif type_id in (COMMAND_AMF0, COMMAND_AMF3):
            body = payload[1:] if type_id == COMMAND_AMF3 else payload
            self._on_command(amf0.decode_all(body))
        elif type_id in (AUDIO, VIDEO, DATA_AMF0, DATA_AMF3):
            self._on_media(type_id, timestamp, payload)
        # Other message types (shared objects, aggregate) are not used by encoders.

    def _on_command(self, values: list) -> None:
        if len(values) < 2 or not isinstance(values[0], str):
            raise RtmpError("malformed command")
        name, txn = values[0], values[1] or 0
        if name == "connect":
            props = values[2] if len(values) > 2 and isinstance(values[2], dict) else {}
            self.app = str(props.get("app", "")).strip("/")
            if self.app.split("?", 1)[0] != self.app_name:
                self._command(
                    "_error",
                    txn,
                    None,
                    {
                        "level": "error",
                        "code": "NetConnection.Connect.Rejected",
                        "description": f"Unknown application; publish to /{self.app_name}.",
                    },
                )
                raise RtmpError(f"connect to unknown app {self.app!r}")
            self._send(2, WINDOW_ACK, 0, struct.pack(">I", WINDOW_ACK_SIZE))
            self._send(2, PEER_BANDWIDTH, 0, struct.pack(">IB", WINDOW_ACK_SIZE, 2))
            self._send(2, SET_CHUNK_SIZE, 0, struct.pack(">I", OUT_CHUNK_SIZE))
            self._command(
                "_result",
                txn,
                {"fmsVer": "FMS/3,0,1,123", "capabilities": 31},
                {
                    "level": "status",
                    "code": "NetConnection.Connect.Success",
                    "description": "Connection succeeded.",
                    "objectEncoding": 0,
                },
            )
        elif name in ("releaseStream", "FCPublish", "FCUnpublish"):
            if name == "FCUnpublish":
                # Keep reading until deleteStream (or EOF): closing now would make the
                # encoder's last command fail and its clean stop end in an error.
                self.unpublished = True
            self._command("_result", txn, None, None)
        elif name == "createStream":
            self._command("_result", txn, None, STREAM_ID)
        elif name == "publish":
            self._on_publish(txn, values)
        elif name in ("deleteStream", "closeStream"):
            self.closing = True
        elif name == "play":
            self._status("error", "NetStream.Play.Failed", "Playback is over HLS, not RTMP.")
            raise RtmpError("play is not supported")
        # Anything else (getStreamLength, ping-like calls) needs no answer.

    def _status(self, level: str, code: str, description: str) -> None:
        self._command(
            "onStatus",
            0,
            None,
            {"level": level, "code": code, "description": description},
            stream_id=STREAM_ID,
        )

    def _on_publish(self, txn, values: list) -> None:
        if self.sink is not None:
            raise RtmpError("publish twice on one connection")
        name = values[3] if len(values) > 3 and isinstance(values[3], str) else ""
        key = name.split("?", 1)[0].strip()
        try:
            sink = self.authorize(self.app, key, self.peer)
        except PublishRefused as exc:
            log.warning("rtmp %s: publish refused (key %s…): %s", self.peer, key[:4], exc)
            self._status("error", "NetStream.Publish.BadName", "Stream key refused.")
            raise RtmpError("publish refused") from None
        self.sink = sink
        # User control: Stream Begin.
        self._send(2, USER_CONTROL, 0, struct.pack(">HI", 0, STREAM_ID))
        self._status("status", "NetStream.Publish.Start", "Publishing.")
        log.info("rtmp %s: publishing (key %s…)", self.peer, key[:4])

    def _on_media(self, type_id: int, timestamp: int, payload: bytes) -> None:
        if self.sink is None:
            # Media before an accepted publish: refuse the whole connection.
            raise RtmpError("media sent before publish was accepted")
        if type_id in (DATA_AMF0, DATA_AMF3):
            body = payload[1:] if type_id == DATA_AMF3 else payload
            values = amf0.decode_all(body)
            if values and values[0] == "@setDataFrame":
                values = values[1:]
            if not values or values[0] != "onMetaData":
                return
            payload, type_id = amf0.encode(*values), DATA_AMF0
        if not self.wrote_header:
            self.sink.write(FLV_HEADER)
            self.wrote_header = True
        self.sink.write(flv_tag(type_id, timestamp, payload))


class RtmpServer:
    """Accepts encoder connections on ``host:port`` until ``stop``."""

    def __init__(self, host: str, port: int, authorize, *, app_name: str = "live"):
        self.host, self.port = host, port
        self.authorize = authorize
        self.app_name = app_name
        self._sock: socket.socket | None = None
        self._stopped = threading.Event()

    def start(self) -> int:
        """Bind and serve in a background thread; returns the bound port (0 picks one)."""
        self._sock = socket.create_server((self.host, self.port), reuse_port=False)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, name="rtmp-accept", daemon=True).start()
        log.info("rtmp listening on %s:%s", self.host, self.port)
        return self.port

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, peer = self._sock.accept()
            except OSError:
                if self._stopped.is_set():
                    return
                time.sleep(0.1)
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handler = RtmpConnection(conn, f"{peer[0]}:{peer[1]}", self.authorize, app_name=self.app_name)
            threading.Thread(target=handler.run, name=f"rtmp-{peer[1]}", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
