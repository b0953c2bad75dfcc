"""A Web Push service for tests, and the browser side of Web Push.

``Browser`` holds what a browser keeps when it subscribes (a P-256 key pair and an
auth secret) and decrypts what a push service hands it: RFC 8291 over RFC 8188
aes128gcm, written out here from the RFCs rather than taken from the library the app
sends with. ``PushService`` is an HTTP server on 127.0.0.1 that records every message;
``check_vapid`` verifies a request's VAPID header (RFC 8292). Used by tests/test_push.py
and the browser test tests/e2e/test_push_flow.py.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SUBJECT = "mailto:admin@localhost"


# -- a browser's keys, and what a push service does with a message -----------------------
def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


@dataclass
class Browser:
    """What a browser keeps when it subscribes: a P-256 key pair and an auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def p256dh(self) -> str:
        return b64url(self.public_bytes)

    def subscription(self, endpoint: str) -> dict:
        """What ``PushSubscription.toJSON()`` gives."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 (Web Push encryption) over RFC 8188 (aes128gcm), as a browser does it."""
        salt, record_size, id_length = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        assert id_length == 65, "the keyid must be the sender's uncompressed P-256 key"
        sender_public = body[21 : 21 + id_length]
        records = body[21 + id_length :]
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
        shared = self.private_key.exchange(ec.ECDH(), sender)
        ikm = hkdf(self.auth, shared, b"WebPush: info\x00" + self.public_bytes + sender_public, 32)
        cek = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = int.from_bytes(hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12), "big")
        plain = b""
        starts = range(0, len(records), record_size)
        for seq, start in enumerate(starts):
            padded = AESGCM(cek).decrypt(
                (nonce ^ seq).to_bytes(12, "big"), records[start : start + record_size], None
            )
            unpadded = padded.rstrip(b"\x00")
            last = seq == len(starts) - 1
            assert unpadded[-1:] == (b"\x02" if last else b"\x01"), "bad padding delimiter"
            plain += unpadded[:-1]
        return plain


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class PushService:
    """A push service on 127.0.0.1: records every POST and answers with the status in
    its path (``/push/410/x`` answers 410; ``/push/307/x`` redirects to
    ``/push/201/redirected-from-x``). ``gate`` holds the answers while cleared."""

    def __init__(self):
        self.received: list[Received] = []
        self.gate = threading.Event()
        self.gate.set()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.received.append(Received(self.path, dict(self.headers.items()), body))
                service.gate.wait(timeout=15)
                status = int(self.path.split("/")[2])
                self.send_response(status)
                if 300 <= status < 400:  # a redirect to another endpoint of this service
                    self.send_header("Location", f"/push/201/redirected-from-{self.path.split('/')[3]}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def endpoint(self, name: str, status: int = 201) -> str:
        return f"{self.origin}/push/{status}/{name}"

    def to(self, endpoint: str) -> list[Received]:
        path = endpoint.removeprefix(self.origin)
        return [r for r in self.received if r.path == path]

    def close(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_vapid(authorization: str, server_key: str, audience: str, subject: str = SUBJECT) -> dict:
    """``vapid t=<JWT>,k=<key>``: the JWT is ES256-signed by the server's key; returns its claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    assert values["k"] == server_key
    header_b64, claims_b64, signature_b64 = values["t"].split(".")
    assert json.loads(unb64url(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    signature = unb64url(signature_b64)
    assert len(signature) == 64
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(server_key))
    # Raises InvalidSignature if the token was not signed by the server's key.
    public.verify(
        encode_dss_signature(r, s), f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256())
    )
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == audience
    assert claims["sub"] == subject
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    return claims


class FakeDNS:
    """``socket.getaddrinfo`` for tests that must not reach a real DNS server.

    IP addresses resolve as themselves; a name resolves to ``answers[name]``: a list of
    addresses, or a list of such lists given out one per lookup (the last one stays).
    Any other name is not found. Install with ``monkeypatch.setattr(socket,
    "getaddrinfo", dns)``; ``lookups`` records the names looked up.
    """

    def __init__(self, real=socket.getaddrinfo):
        self.real = real
        self.answers: dict[str, list] = {}
        self.lookups: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        try:
            return self.real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.lookups.append(name)
        answer = self.answers.get(name.rstrip(".").lower())
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answer and isinstance(answer[0], list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        results = []
        for address in answer:
            if ":" in address:
                results.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, int(port), 0, 0)))
            else:
                results.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port))))
        return results
