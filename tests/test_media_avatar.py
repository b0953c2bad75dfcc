"""Avatar upload through the settings page and the API: re-encoded, square, metadata-free."""

from __future__ import annotations

import struct
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest
from factories import make_admin, make_token, make_user
from pages import field_errors, flashes, submit

from livelite.services import accounts

NOT_AN_IMAGE = "This file is not an image we can read. Use a JPEG, PNG or WebP picture."


def encode(image: np.ndarray, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def png_with_alpha() -> bytes:
    """A red disc on a fully transparent background."""
    image = np.zeros((300, 400, 4), dtype=np.uint8)
    cv2.circle(image, (200, 150), 60, (0, 0, 255, 255), -1)
    return encode(image, ".png")


def grayscale_png() -> bytes:
    image = np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (120, 1))
    assert image.ndim == 2
    return encode(image, ".png")


def with_exif(jpeg: bytes) -> bytes:
    """Insert an APP1 Exif segment (a TIFF header with a camera-make tag) after SOI."""
    make = b"SecretCam GPS 48.8584N\x00"
    # Little-endian TIFF: header, one IFD with one ASCII entry (Make, tag 0x010F).
    ifd_offset = 8
    value_offset = ifd_offset + 2 + 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", ifd_offset)
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x010F, 2, len(make), value_offset)
    tiff += struct.pack("<I", 0) + make
    payload = b"Exif\x00\x00" + tiff
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + segment + jpeg[2:]


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, "not a decodable image"
    return image


@pytest.fixture
def bob(app):
    with app.app_context():
        make_admin()
        make_user("bob", display_name="Bob")
    return app


def avatar_path(app, username="bob") -> str | None:
    with app.app_context():
        return accounts.get_by_username(username).avatar_path


def stored_file(app, relative: str) -> Path:
    return Path(app.config["MEDIA_ROOT"]) / relative


def upload_via_page(client, data: bytes, filename: str, **kwargs):
    return submit(
        client,
        "/settings/profile",
        {"avatar": (BytesIO(data), filename)},
        action="/settings/avatar",
        content_type="multipart/form-data",
        **kwargs,
    )


def test_page_upload_makes_a_256_square_jpeg_served_from_media(bob, client, auth, avatar_jpeg):
    auth.login("bob")
    response = upload_via_page(client, avatar_jpeg, "holiday.jpg", follow_redirects=True)
    assert "Your new picture is in place." in flashes(response.get_data(as_text=True))

    relative = avatar_path(bob)
    assert relative.startswith("avatars/") and relative.endswith("/avatar.jpg")
    assert "holiday" not in relative  # the uploaded name never reaches the disk
    data = stored_file(bob, relative).read_bytes()
    assert data[:3] == b"\xff\xd8\xff"
    assert decode(data).shape == (256, 256, 3)

    page = client.get("/@bob").get_data(as_text=True)
    url = f"/media/{relative}"
    assert f'src="{url}"' in page
    served = client.get(url)
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert served.data == data
    assert "immutable" in served.headers["Cache-Control"]


def test_centre_crop_keeps_the_middle(bob, client, auth):
    # Left and right thirds black, the middle white: a square centre crop is all white.
    image = np.zeros((300, 900, 3), dtype=np.uint8)
    image[:, 300:600] = 255
    auth.login("bob")
    upload_via_page(client, encode(image, ".png"), "wide.png")
    result = decode(stored_file(bob, avatar_path(bob)).read_bytes())
    assert result.mean() > 245


def test_png_with_alpha_becomes_jpeg_on_white(bob, client, auth):
    auth.login("bob")
    upload_via_page(client, png_with_alpha(), "logo.png")
    result = decode(stored_file(bob, avatar_path(bob)).read_bytes())
    assert result.shape == (256, 256, 3)
    assert result[5, 5].min() > 240  # transparent corner → white, not black
    b, g, r = result[128, 128]
    assert r > 200 and g < 60 and b < 60  # the opaque red disc stays red


def test_grayscale_image_is_accepted(bob, client, auth):
    auth.login("bob")
    upload_via_page(client, grayscale_png(), "grey.png")
    assert decode(stored_file(bob, avatar_path(bob)).read_bytes()).shape == (256, 256, 3)


def test_metadata_is_stripped(bob, client, auth, avatar_jpeg):
    original = with_exif(avatar_jpeg)
    assert b"Exif" in original and b"SecretCam" in original
    assert decode(original).shape == (480, 640, 3)  # still a valid JPEG
    auth.login("bob")
    upload_via_page(client, original, "camera.jpg")
    data = stored_file(bob, avatar_path(bob)).read_bytes()
    assert b"Exif" not in data
    assert b"SecretCam" not in data


def test_a_new_avatar_replaces_and_deletes_the_old_file(bob, client, auth, avatar_jpeg):
    auth.login("bob")
    upload_via_page(client, avatar_jpeg, "one.jpg")
    first = stored_file(bob, avatar_path(bob))
    upload_via_page(client, grayscale_png(), "two.png")
    second = stored_file(bob, avatar_path(bob))
    assert second != first and second.is_file()
    assert not first.exists() and not first.parent.exists()
    assert client.get(f"/media/{first.relative_to(bob.config['MEDIA_ROOT']).as_posix()}").status_code == 404


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"Hello, I am a text file, not a picture.\n" * 10, "notes.png", NOT_AN_IMAGE),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "truncated.png", NOT_AN_IMAGE),
        (b"", "empty.jpg", "The file is empty."),
    ],
)
def test_bad_files_are_refused_on_the_page_and_the_old_avatar_kept(
    bob, client, auth, avatar_jpeg, data, filename, message
):
    auth.login("bob")
    upload_via_page(client, avatar_jpeg, "good.jpg")
    before = avatar_path(bob)

    response = upload_via_page(client, data, filename)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "avatar") == [message]
    assert avatar_path(bob) == before
    assert stored_file(bob, before).is_file()


def test_a_file_over_the_size_limit_is_refused(make_app):
    app = make_app(AVATAR_MAX_BYTES=1024 * 1024)
    with app.app_context():
        make_admin()
        bob = make_user("bob")
        secret = make_token(bob, scopes=["write"])
    rng = np.random.default_rng(7)
    noise = encode(rng.integers(0, 256, size=(800, 800, 3), dtype=np.uint8), ".png")
    assert len(noise) > 1024 * 1024
    client = app.test_client()
    response = client.put(
        "/api/v1/me/avatar",
        data={"avatar": (BytesIO(noise), "big.png")},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {"avatar": ["The image is too large (1 MB at most)."]}
    assert avatar_path(app) is None
    assert not list(Path(app.config["MEDIA_ROOT"]).rglob("*.jpg"))


def test_no_file_chosen_on_the_page(bob, client, auth):
    auth.login("bob")
    response = submit(client, "/settings/profile", {}, action="/settings/avatar", content_type="multipart/form-data")
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "avatar") == ["Choose a picture."]


def test_remove_avatar_deletes_the_file(bob, client, auth, avatar_jpeg):
    auth.login("bob")
    upload_via_page(client, avatar_jpeg, "a.jpg")
    path = stored_file(bob, avatar_path(bob))
    response = submit(client, "/settings/profile", action="/settings/avatar/remove", follow_redirects=True)
    assert "Your picture was removed." in flashes(response.get_data(as_text=True))
    assert avatar_path(bob) is None
    assert not path.exists()
    assert "/media/avatars/" not in client.get("/@bob").get_data(as_text=True)


# --- the API ----------------------------------------------------------------------


def test_api_put_avatar(bob, client, avatar_jpeg):
    with bob.app_context():
        secret = make_token(accounts.get_by_username("bob"), scopes=["read", "write"])
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.put("/api/v1/me/avatar", data={"avatar": (BytesIO(png_with_alpha()), "x.png")}, headers=headers)
    assert response.status_code == 200
    url = response.get_json()["avatar_url"]
    assert url == f"/media/{avatar_path(bob)}"
    served = client.get(url)
    assert decode(served.data).shape == (256, 256, 3)

    response = client.put(
        "/api/v1/me/avatar", data={"avatar": (BytesIO(b"plain text"), "fake.png")}, headers=headers
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {"avatar": [NOT_AN_IMAGE]}
    assert client.get("/api/v1/me", headers=headers).get_json()["avatar_url"] == url

    response = client.put("/api/v1/me/avatar", data={"avatar": (BytesIO(b""), "empty.png")}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {"avatar": ["The file is empty."]}

    assert client.delete("/api/v1/me/avatar", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).get_json()["avatar_url"] is None
    assert client.get(url).status_code == 404


def test_api_put_avatar_without_a_file(bob, client):
    with bob.app_context():
        secret = make_token(accounts.get_by_username("bob"), scopes=["write"])
    response = client.put("/api/v1/me/avatar", data={}, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 422
    # Per field, like every other validation error (not nested under the request location).
    assert response.get_json()["error"]["errors"] == {"avatar": ["Missing data for required field."]}


@pytest.mark.parametrize("path", ["/media/../livelite.db", "/media/avatars/../../secret_key", "/media/secret_key"])
def test_media_route_serves_only_public_uploads(bob, client, path):
    response = client.get(path)
    assert response.status_code == 404
