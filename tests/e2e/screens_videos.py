"""Screenshots of the short-video and story pages: ``python tests/e2e/screens_videos.py [OUTDIR]``.

Starts a real server with the demo data; Ada posts videos (one linked to her event)
and stories, Grace a story; then the upload page (empty and with an error), a video
converting, the video page (as Ada, and as Grace with the RSVP button), Ada's
profile grid, the story viewer (photo and video) and For You are saved at 1280x800
and 390x844, light and dark: ``videos-<page>-<desktop|mobile>-<light|dark>.png``.
Not a test: pytest skips it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, seed_demo_site, start_server, stop_server
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from screens import SCHEMES, VIEWPORTS, capture

DEMO_PASSWORD = "livelite-demo"


def make_clip(path: Path, seconds: float, size: str, *, audio: bool = True) -> Path:
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
        *(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000"] if audio else []),
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        *(["-c:a", "aac"] if audio else []), str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=300)
    return path


def make_photo(path: Path) -> Path:
    image = np.zeros((1600, 1200, 3), dtype=np.uint8)
    image[:] = np.linspace(40, 220, 1200, dtype=np.uint8)[None, :, None]
    image[:, :, 0] = np.linspace(200, 60, 1600, dtype=np.uint8)[:, None]
    cv2.circle(image, (600, 700), 260, (60, 200, 255), -1)
    cv2.putText(image, "Backstage", (300, 1250), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
    cv2.imwrite(str(path), image)
    return path


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Account menu").wait_for()


def post(page: Page, file: Path, caption: str = "", *, story: bool = False, event: str | None = None) -> str:
    """Upload through the page; returns the video page's path once it is ready."""
    page.goto("/videos/new")
    page.get_by_label("Video or picture").set_input_files(file)
    if story:
        page.get_by_label("Story (gone after 24 hours)").check()
    if caption:
        page.get_by_label("Caption").fill(caption)
    if event:
        page.get_by_label("Link an upcoming LIVE event").select_option(label=event)
    page.get_by_role("button", name="Post").click()
    page.wait_for_url("**/v/*", timeout=60_000)
    return page.url.split("#")[0].replace(page.url.split("/v/")[0], "")


def wait_ready(page: Page, path: str) -> None:
    page.goto(path)
    page.locator("video[data-video-player], img.video-player").wait_for(timeout=180_000)


def prepare(browser: Browser, base_url: str, workdir: Path) -> dict[str, str]:
    """The content the screenshots show; returns named paths."""
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    log_in(page, "ada")
    landscape = post(
        page,
        make_clip(workdir / "lesson.mp4", 8, "1280x720"),
        "Fractions in 8 seconds: halves, quarters and why 1/3 + 1/3 is not 2/6.\n"
        "Come to the live tomorrow with your questions! #maths #fractions",
        event="Fractions without fear",
    )
    wait_ready(page, landscape)
    for i, size in enumerate(("720x1280", "1080x1080", "720x1280")):
        wait_ready(
            page, post(page, make_clip(workdir / f"clip{i}.mp4", 3 + i, size), f"Short clip number {i + 1}")
        )
    photo_story = post(page, make_photo(workdir / "photo.jpg"), "Setting up for tonight", story=True)
    video_story = post(page, make_clip(workdir / "story.mp4", 5, "720x1280"), "", story=True)
    wait_ready(page, video_story)
    slow = post(page, make_clip(workdir / "long.mp4", 120, "1280x720", audio=False), "A long one, converting")
    context.close()

    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    log_in(page, "grace")
    post(page, make_photo(workdir / "grace.jpg"), "Bug found!", story=True)
    context.close()
    return {"video": landscape, "photo_story": photo_story, "video_story": video_story, "slow": slow}


def settle(page: Page) -> None:
    """Wait for the page to be quiet; pages with looping videos may never be idle."""
    try:
        page.wait_for_load_state("networkidle", timeout=5000)
    except PlaywrightTimeout:
        page.wait_for_timeout(500)


def variant(
    browser: Browser, base_url: str, out: Path, device: str, scheme: str, paths, workdir
) -> list[Path]:
    saved = []

    def name(page_name: str) -> Path:
        path = out / f"videos-{page_name}-{device}-{scheme}.png"
        saved.append(path)
        return path

    options = {**VIEWPORTS[device], "color_scheme": scheme, "base_url": base_url}
    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page, "ada")

    def shoot(page_name: str, path: str) -> None:
        page.goto(path)
        settle(page)
        capture(page, name(page_name))

    shoot("upload", "/videos/new")
    bad = workdir / "notes.mp4"
    bad.write_text("not a video\n" * 10)
    page.get_by_label("Video or picture").set_input_files(bad)
    page.get_by_role("button", name="Post").click()
    page.locator("#file-err li").wait_for()
    capture(page, name("upload-error"))
    page.goto(paths["slow"])
    if page.locator("[data-video-progress]").count():
        page.wait_for_timeout(1500)
        capture(page, name("processing"))
    shoot("video-own", paths["video"])
    shoot("profile", "/@ada")
    shoot("for-you", "/")
    page.goto("/stories/@ada")
    page.wait_for_timeout(800)
    capture(page, name("story-photo"))
    page.goto("/stories/@ada?i=1")
    page.wait_for_timeout(1500)
    capture(page, name("story-video"))
    context.close()

    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page, "grace")
    page.goto(paths["video"])
    settle(page)
    capture(page, name("video-rsvp"))
    context.close()
    return saved


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="livelite-screens-videos-") as tmp:
        workdir = Path(tmp)
        server = start_server(workdir / "instance")
        try:
            seed_demo_site(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                paths = prepare(browser, server.url, workdir)
                saved = []
                for device in VIEWPORTS:
                    for scheme in SCHEMES:
                        saved += variant(browser, server.url, out, device, scheme, paths, workdir)
                browser.close()
        except BaseException:
            print(server.log(), file=sys.stderr)
            raise
        finally:
            stop_server(server)
    print(f"{len(saved)} screenshots in {out} ({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
