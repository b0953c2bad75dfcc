#!/usr/bin/env python
"""Glass-to-glass latency of LiveLite: from a frame entering the publisher to the same
frame on a viewer's screen.

    python bench/latency.py [--seconds 60] [--path browser|rtmp|both]

The script starts its own server (``python app.py``) in a temporary instance folder on
free ports, creates a user who may go live, and drives Debian's Chromium headless.

Every frame of the test video carries its frame number as a binary barcode (16 blocks:
a 12-bit frame number and a 4-bit check, between black/white guard blocks). A sampler
put into each page with ``page.evaluate`` draws the page's <video> into a canvas on
every presented frame (``requestVideoFrameCallback``; a 10 ms timer where that is
missing), decodes the barcode and keeps ``(Date.now(), frame number)`` each time the
number changes. Code given to ``page.evaluate`` runs outside the page's CSP, and the
functions it defines keep running there; ``wait_for_function`` would be refused.

Browser path: Chromium's fake camera plays the barcode Y4M
(``--use-file-for-fake-video-capture``). In one browser (one clock), page A is the
studio, logged in, live; page B an anonymous viewer. The latency of frame n is the time
page B first showed n minus the time page A's preview first showed n. The camera-to-
preview delay is in neither, so the figure is what a person at the publisher's screen
would see as the delay, less the display's own latency.

RTMP path: ffmpeg (imageio-ffmpeg) pushes the same video with ``-re`` (libx264
veryfast zerolatency, a keyframe every second) to the app's RTMP listener. ffmpeg
sends frame n at about ``t0 + n / fps``; ``t0`` is fitted from ffmpeg's ``-progress``
reports (the earliest ``report time - frame / fps``), so the figure is an upper bound by
the few milliseconds between sending a frame and reporting it. The viewer is sampled
as in the browser path.

The Y4M loops every ``LOOP_SECONDS``: a viewer frame is matched with the publisher's
newest showing of the same number before it, so latencies must stay below the loop
length (they do by a wide margin; a match that would be longer is dropped).

Besides the latency the viewer's page reports how far it is behind the live edge
(``seekable.end - currentTime``, and hls.js's own ``latency``), how often it waited for
data (the video's ``waiting`` events: stalls and rebuffers) and the hls.js settings in
use. hls.js is a local variable of static/js/lives/watch.js, so an init script wraps
``window.Hls`` when hls.min.js defines it and keeps the instance (``--hls-override``
merges settings into watch.js's, to try values before editing watch.js;
``--viewer-rtt`` / ``--viewer-kbps`` put the viewer behind an emulated network).

The exit status is non-zero only when the measurement itself fails (the server does not
start, the live does not play, no frame could be matched); there are no thresholds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
USERNAME = "benchhost"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account in a temporary instance

WIDTH, HEIGHT, FPS = 640, 360, 30
LOOP_SECONDS = 20
LOOP_FRAMES = FPS * LOOP_SECONDS

# Barcode: one row of blocks near the top of the frame.
# [white, black] guards, 16 data blocks (12-bit frame number, 4-bit check), [black, white].
DATA_BITS, NUMBER_BITS = 16, 12
GUARDS_LEFT, GUARDS_RIGHT = (1, 0), (0, 1)
BLOCK_W, BLOCK_H = 28, 96
BAR_X0, BAR_Y0 = (WIDTH - BLOCK_W * (DATA_BITS + 4)) // 2, 24
Y_BLACK, Y_WHITE = 16, 235

STARTUP_TIMEOUT = 40.0
PLAY_TIMEOUT = 60.0


# -- the test video --------------------------------------------------------------------
def check_nibble(number: int) -> int:
    return ((number & 0xF) + ((number >> 4) & 0xF) + ((number >> 8) & 0xF) + 5) & 0xF


def barcode_bits(number: int) -> list[int]:
    """Block values left to right: guards, number (MSB first), check, guards."""
    word = (number << 4) | check_nibble(number)
    data = [(word >> (DATA_BITS - 1 - i)) & 1 for i in range(DATA_BITS)]
    return [*GUARDS_LEFT, *data, *GUARDS_RIGHT]


def make_y4m(path: Path) -> None:
    """A ``LOOP_SECONDS`` 4:2:0 Y4M: barcode on top, moving content below (so the
    encoders have some work, as with a camera)."""
    assert LOOP_FRAMES < 1 << NUMBER_BITS
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    chroma = np.full((HEIGHT // 2, WIDTH // 2), 128, np.uint8)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(LOOP_FRAMES):
            luma = ((xx + yy + 4 * n) % 256 // 2 + 64).astype(np.uint8)  # a moving ramp
            luma[: BAR_Y0 + BLOCK_H + 16] = 128
            bar = (n * 8) % WIDTH  # a bar sweeping across the lower part
            luma[HEIGHT - 80 : HEIGHT - 20, bar : bar + 40] = Y_WHITE
            for i, bit in enumerate(barcode_bits(n)):
                x = BAR_X0 + i * BLOCK_W
                luma[BAR_Y0 : BAR_Y0 + BLOCK_H, x : x + BLOCK_W] = Y_WHITE if bit else Y_BLACK
            out.write(b"FRAME\n")
            out.write(luma.tobytes())
            out.write(chroma.tobytes())
            out.write(chroma.tobytes())


# The in-page sampler. Block centres are given as fractions of the picture, so the
# decoded size of the video does not matter.
SAMPLER_JS = """
(layout) => {
  if (window.__benchSampler) return true;
  const video = document.querySelector(layout.selector);
  if (!video) return false;
  const b = window.__bench || (window.__bench = { waiting: [], stalled: 0 });
  const W = 320, H = 180;
  const canvas = document.createElement("canvas");
  canvas.width = W; canvas.height = H;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const state = window.__benchSampler = { samples: [], last: -1, good: 0, bad: 0, calls: 0, rvfc: false };
  const y = Math.round(layout.cy * H), y0 = y - 2;
  function decode() {
    if (!video.videoWidth || video.readyState < 2) return -1;
    ctx.drawImage(video, 0, 0, W, H);
    const row = ctx.getImageData(0, y0, W, 5).data;
    let word = 0;
    for (let i = 0; i < layout.cx.length; i++) {
      const x = Math.round(layout.cx[i] * W);
      let sum = 0;
      for (let dy = 0; dy < 5; dy++) for (let dx = -1; dx <= 1; dx++) {
        const p = (dy * W + x + dx) * 4;
        sum += row[p] + row[p + 1] + row[p + 2];
      }
      const level = sum / 45;
      let bit;
      if (level < 80) bit = 0; else if (level > 175) bit = 1; else return -2;
      const g = i - layout.guardsLeft.length;
      if (g < 0) { if (bit !== layout.guardsLeft[i]) return -2; continue; }
      if (g >= layout.dataBits) { if (bit !== layout.guardsRight[g - layout.dataBits]) return -2; continue; }
      word = word * 2 + bit;
    }
    const n = word >> 4, c = word & 15;
    const check = ((n & 15) + ((n >> 4) & 15) + ((n >> 8) & 15) + 5) & 15;
    return c === check ? n : -2;
  }
  function sample() {
    state.calls++;
    const n = decode();
    if (n === -2) { state.bad++; return; }
    if (n < 0) return;
    state.good++;
    if (n !== state.last) { state.samples.push([Date.now(), n]); state.last = n; }
  }
  if (video.requestVideoFrameCallback) {
    state.rvfc = true;
    const onFrame = () => { sample(); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
  } else {
    setInterval(sample, 10);
  }
  return true;
}
"""

COLLECT_JS = """
() => {
  const s = window.__benchSampler, b = window.__bench || {};
  const v = document.querySelector("video");
  const last = (r) => (r && r.length ? r.end(r.length - 1) : null);
  const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  const h = b.hls;
  return {
    now: Date.now(),
    samples: s ? s.samples.splice(0) : [],
    good: s ? s.good : 0, bad: s ? s.bad : 0, calls: s ? s.calls : 0, rvfc: s ? s.rvfc : null,
    currentTime: v ? v.currentTime : null,
    seekableEnd: v ? last(v.seekable) : null,
    bufferedEnd: v ? last(v.buffered) : null,
    paused: v ? v.paused : null,
    playbackRate: v ? v.playbackRate : null,
    width: v ? v.videoWidth : 0,
    dropped: q ? q.droppedVideoFrames : null,
    frames: q ? q.totalVideoFrames : null,
    waiting: (b.waiting || []).slice(),
    hlsLatency: h ? h.latency : null,
    hlsTargetLatency: h ? h.targetLatency : null,
    visibility: document.visibilityState,
  };
}
"""

HLS_SETTINGS_JS = """
() => {
  const h = window.__bench && window.__bench.hls;
  if (!h) return null;
  const keys = ["lowLatencyMode", "liveSyncDuration", "liveSyncDurationCount", "liveMaxLatencyDuration",
    "liveMaxLatencyDurationCount", "maxLiveSyncPlaybackRate", "liveSyncOnStallIncrease",
    "maxBufferLength", "backBufferLength", "liveDurationInfinity"];
  const out = { version: window.Hls && window.Hls.version, watch_js: window.__bench.appConfig };
  for (const k of keys) out[k] = h.config[k] === undefined ? null : h.config[k];
  return out;
}
"""


def init_script(hls_override: dict | None) -> str:
    """Runs before the page's scripts (outside its CSP): counts 'waiting' events and
    keeps the hls.js instance watch.js creates, optionally merging settings into it."""
    return """
(() => {
  const b = window.__bench = { waiting: [], hls: null, appConfig: null, override: OVERRIDE };
  document.addEventListener("waiting", () => b.waiting.push(Date.now()), true);
  let current;
  Object.defineProperty(window, "Hls", {
    configurable: true,
    get() { return current; },
    set(value) {
      if (typeof value !== "function") { current = value; return; }
      current = new Proxy(value, {
        construct(target, args, newTarget) {
          b.appConfig = Object.assign({}, args[0] || {});
          const config = Object.assign({}, args[0] || {}, b.override || {});
          const instance = Reflect.construct(target, [config], newTarget);
          b.hls = instance;
          return instance;
        },
      });
    },
  });
})();
""".replace("OVERRIDE", json.dumps(hls_override or None))


def layout() -> dict:
    blocks = DATA_BITS + len(GUARDS_LEFT) + len(GUARDS_RIGHT)
    return {
        "cx": [(BAR_X0 + (i + 0.5) * BLOCK_W) / WIDTH for i in range(blocks)],
        "cy": (BAR_Y0 + BLOCK_H / 2) / HEIGHT,
        "guardsLeft": list(GUARDS_LEFT),
        "guardsRight": list(GUARDS_RIGHT),
        "dataBits": DATA_BITS,
    }


# -- the server ------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    rtmp_port: int
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen = field(repr=False)
    log_path: Path

    @classmethod
    def start(cls, instance: Path) -> Server:
        instance.mkdir(parents=True)
        port, rtmp_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVELITE_") and k != "DATABASE_URL"}
        env.update(
            LIVELITE_INSTANCE_PATH=str(instance),
            LIVELITE_HOST="127.0.0.1",
            LIVELITE_PORT=str(port),
            LIVELITE_RTMP_HOST="127.0.0.1",
            LIVELITE_RTMP_PORT=str(rtmp_port),
            LIVELITE_RATELIMIT_ENABLED="false",
            PYTHONUNBUFFERED="1",
        )
        log_path = instance.parent / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed argv
                [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        server = cls(f"http://127.0.0.1:{port}", port, rtmp_port, env, process, log_path)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.healthy():
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise BenchError(f"the server did not start:\n{server.log()[-3000:]}")
            time.sleep(0.2)
        return server

    def healthy(self) -> bool:
        try:
            return self.get_json("/healthz").get("status") == "ok"
        except (OSError, http.client.HTTPException, ValueError):
            return False

    def get_json(self, path: str):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise ValueError(f"GET {path}: {response.status}")
            return json.loads(body)
        finally:
            connection.close()

    def cli(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"flask {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def live_state(self, live_id: int) -> str:
        """For error messages: the live's status, or what became of the server."""
        if self.process.poll() is not None:
            return f"the server exited with code {self.process.returncode}"
        try:
            live = self.get_json(f"/api/v1/lives/{live_id}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return f"the server does not answer: {exc}"
        return f"the live is {live.get('status')}, end reason {live.get('end_reason')}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class BenchError(Exception):
    """The measurement could not be made."""


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise BenchError(f"timed out waiting for {what}")


def current_live(server: Server, source: str) -> dict | None:
    lives = server.get_json("/api/v1/lives")
    for live in lives:
        if live.get("feeds") and live["feeds"][0].get("source") == source:
            return live
    return None


# -- pages -----------------------------------------------------------------------------
def install_sampler(page, selector: str) -> None:
    wait_until(
        lambda: page.evaluate(SAMPLER_JS, {**layout(), "selector": selector}), 20, f"a <video> ({selector})"
    )


def wait_for_picture(page, what: str) -> None:
    """Until the sampler has decoded a frame number from the page's video."""
    wait_until(
        lambda: page.evaluate("() => (window.__benchSampler || {}).good > 0"), PLAY_TIMEOUT, f"{what} to play"
    )


@dataclass
class Track:
    """What one page (or ffmpeg) reported during a run."""

    samples: list[tuple[float, int]] = field(default_factory=list)  # (ms, frame number)
    stats: list[dict] = field(default_factory=list)
    good: int = 0
    bad: int = 0
    rvfc: bool | None = None

    def take(self, report: dict) -> None:
        self.samples.extend((float(t), int(n)) for t, n in report["samples"])
        self.good, self.bad, self.rvfc = report["good"], report["bad"], report["rvfc"]
        report = {k: v for k, v in report.items() if k != "samples"}
        self.stats.append(report)


def collect(page, track: Track) -> dict:
    report = page.evaluate(COLLECT_JS)
    track.take(report)
    return report


def log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Account menu").wait_for(state="visible")


def open_viewer(browser, server: Server, live_id: int, args):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    context.add_init_script(script=init_script(args.hls_override))
    page = context.new_page()
    if args.viewer_rtt or args.viewer_kbps:
        # A viewer farther away than loopback: Chromium adds the delay to every request.
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        throughput = args.viewer_kbps * 1000 / 8 if args.viewer_kbps else -1
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": args.viewer_rtt,
                "downloadThroughput": throughput,
                "uploadThroughput": -1,
            },
        )
    page.goto(f"/lives/{live_id}")
    install_sampler(page, "[data-video]")
    return context, page


def measure_viewer(
    viewer, viewer_track: Track, publisher, publisher_track: Track, args
) -> tuple[float, float]:
    """Warm up, then sample for ``args.seconds``; returns (start, end) of the window in ms."""
    wait_for_picture(viewer, "the viewer")
    warm_end = time.monotonic() + args.warmup
    while time.monotonic() < warm_end:
        if publisher is not None:
            collect(publisher, publisher_track)
        collect(viewer, viewer_track)
        time.sleep(0.5)
    start_ms = time.time() * 1000
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        if publisher is not None:
            collect(publisher, publisher_track)
        collect(viewer, viewer_track)
        time.sleep(0.5)
    if publisher is not None:
        collect(publisher, publisher_track)
    collect(viewer, viewer_track)
    return start_ms, time.time() * 1000


# -- the two paths ---------------------------------------------------------------------
@dataclass
class PathResult:
    name: str
    latencies_ms: list[float]
    window_ms: tuple[float, float]
    viewer: Track
    publisher: Track | None
    hls_settings: dict | None
    notes: dict = field(default_factory=dict)


def run_browser_path(browser, server: Server, args) -> PathResult:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    viewer_context = None
    try:
        studio = context.new_page()
        log_in(studio)
        studio.goto("/studio")
        install_sampler(studio, "[data-preview]")
        wait_for_picture(studio, "the studio preview")
        publisher_track = Track()
        collect(studio, publisher_track)
        mime = studio.evaluate(
            """() => ["video/webm;codecs=h264,opus", "video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus"]
                 .find((m) => window.MediaRecorder && MediaRecorder.isTypeSupported(m)) || null"""
        )
        studio.get_by_label("Title").fill("Latency bench (browser)")
        studio.get_by_role("button", name="Go LIVE").last.click()
        studio.get_by_role("status").filter(has_text="You are LIVE.").wait_for(state="visible")
        live = wait_until(lambda: current_live(server, "browser"), 20, "the browser live in /api/v1/lives")
        collect(studio, publisher_track)

        viewer_context, viewer = open_viewer(browser, server, live["id"], args)
        viewer_track = Track()
        window = measure_viewer(viewer, viewer_track, studio, publisher_track, args)
        settings = viewer.evaluate(HLS_SETTINGS_JS)
        latencies = match(publisher_track.samples, viewer_track.samples, window)

        studio.once("dialog", lambda dialog: dialog.accept())
        studio.get_by_role("button", name="End live").click()
        studio.get_by_role("status").filter(has_text="Your live has ended.").wait_for(
            state="visible", timeout=30_000
        )
        feed = (server.get_json(f"/api/v1/lives/{live['id']}").get("feeds") or [{}])[0]
        notes = {"recorder mime": mime, "feed video codec": feed.get("video_codec")}
        return PathResult("browser", latencies, window, viewer_track, publisher_track, settings, notes)
    finally:
        if viewer_context is not None:
            viewer_context.close()
        context.close()


class FfmpegProgress:
    """Reads ``-progress`` blocks: (wall time of the report, frames sent so far)."""

    def __init__(self, process: subprocess.Popen):
        self.reports: list[tuple[float, int]] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        frame = None
        for raw in process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "frame":
                try:
                    frame = int(value)
                except ValueError:
                    frame = None
            elif key == "progress" and frame:
                self.reports.append((time.time() * 1000, frame))

    def send_times(self, skip_seconds: float = 2.0) -> tuple[float, float]:
        """(t0, spread) in ms: frame n (0-based, counted over loops) was sent at
        t0 + n/fps at the latest, t0 being the earliest report time minus the reported
        frame's offset; spread is how much later the median report came (the jitter of
        the reports, and an upper bound of the fit's error if -re kept the pace)."""
        steady = [(t, n) for t, n in self.reports if n > skip_seconds * FPS]
        if not steady:
            raise BenchError("ffmpeg reported no progress")
        offsets = [t - (n - 1) * 1000 / FPS for t, n in steady]
        return min(offsets), statistics.median(offsets) - min(offsets)


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return os.environ.get("LIVELITE_BENCH_FFMPEG") or imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_has_option(ffmpeg: str, option: str) -> bool:
    result = subprocess.run(  # noqa: S603 - fixed argv
        [ffmpeg, "-hide_banner", "-h", "full"], capture_output=True, text=True, timeout=30, check=False
    )
    return f"-{option} " in result.stdout


def run_rtmp_path(browser, server: Server, y4m: Path, args) -> PathResult:
    key = server.cli("stream-key", USERNAME).strip().splitlines()[-1]
    ffmpeg = ffmpeg_exe()
    # ffmpeg >= 6.1 reads the first 0.5 s at once under -re; ask for none.
    burst = ["-readrate_initial_burst", "0"] if ffmpeg_has_option(ffmpeg, "readrate_initial_burst") else []
    command = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-stats_period", "0.05",
        "-re", *burst, "-stream_loop", "-1", "-i", str(y4m),
        "-re", *burst, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0",
        "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
        "-c:a", "aac", "-b:a", "128k",
        "-f", "flv", f"rtmp://127.0.0.1:{server.rtmp_port}/live/{key}",
    ]  # fmt: skip
    log_path = y4m.parent / "ffmpeg-rtmp.log"
    with log_path.open("wb") as log:
        encoder = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)  # noqa: S603
    progress = FfmpegProgress(encoder)
    viewer_context = None
    try:
        live = wait_until(lambda: current_live(server, "rtmp"), 20, "the RTMP live in /api/v1/lives")
        viewer_context, viewer = open_viewer(browser, server, live["id"], args)
        viewer_track = Track()
        window = measure_viewer(viewer, viewer_track, None, None, args)
        settings = viewer.evaluate(HLS_SETTINGS_JS)
        if encoder.poll() is not None:
            raise BenchError(
                f"ffmpeg stopped early ({server.live_state(live['id'])}):\n"
                + log_path.read_text(errors="replace")[-2000:]
            )
        t0, spread = progress.send_times()
        # Every showing of every frame over the loops ffmpeg has sent so far.
        sent_frames = progress.reports[-1][1]
        sent = [(t0 + i * 1000 / FPS, i % LOOP_FRAMES) for i in range(sent_frames)]
        latencies = match(sent, viewer_track.samples, window)
        notes = {
            "ffmpeg": Path(ffmpeg).name,
            "initial burst disabled": bool(burst),
            "send-time fit: median report lag (ms)": round(spread, 1),
        }
        return PathResult("rtmp", latencies, window, viewer_track, None, settings, notes)
    finally:
        if viewer_context is not None:
            viewer_context.close()
        if encoder.poll() is None:
            encoder.terminate()  # a clean unpublish: the live ends
            try:
                encoder.wait(timeout=15)
            except subprocess.TimeoutExpired:
                encoder.kill()
                encoder.wait()


# -- matching and figures --------------------------------------------------------------
def match(
    publisher: list[tuple[float, int]], viewer: list[tuple[float, int]], window: tuple[float, float]
) -> list[float]:
    """Latency (ms) of each frame the viewer first showed inside ``window``: viewer time
    minus the publisher's newest first-showing of the same number before it."""
    shown: dict[int, list[float]] = {}
    for t, n in sorted(publisher):
        shown.setdefault(n, []).append(t)
    loop_ms = LOOP_SECONDS * 1000
    latencies = []
    for t, n in viewer:
        if not window[0] <= t <= window[1]:
            continue
        before = [p for p in shown.get(n, ()) if p <= t]
        if not before:
            continue
        latency = t - before[-1]
        if latency < loop_ms:
            latencies.append(latency)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(result: PathResult) -> dict:
    lat = result.latencies_ms
    stats = [s for s in result.viewer.stats if result.window_ms[0] <= s["now"] <= result.window_ms[1]]
    behind = [
        s["seekableEnd"] - s["currentTime"]
        for s in stats
        if s["seekableEnd"] is not None and s["currentTime"] is not None
    ]
    hls_latency = [s["hlsLatency"] for s in stats if s.get("hlsLatency") is not None]
    last = result.viewer.stats[-1] if result.viewer.stats else {}
    waiting = last.get("waiting") or []
    in_window = [t for t in waiting if result.window_ms[0] <= t <= result.window_ms[1]]
    first_stats = next((s for s in stats), {})
    window_s = (result.window_ms[1] - result.window_ms[0]) / 1000
    viewer_frames = [t for t, _ in result.viewer.samples if result.window_ms[0] <= t <= result.window_ms[1]]
    out = {
        "path": result.name,
        "window_s": round(window_s, 1),
        "matched_frames": len(lat),
        "viewer_frames": len(viewer_frames),
        "viewer_fps": round(len(viewer_frames) / window_s, 1) if window_s else None,
        "publisher_frames": len(result.publisher.samples) if result.publisher else None,
        "latency_ms": {
            "p50": round(percentile(lat, 0.5)) if lat else None,
            "p90": round(percentile(lat, 0.9)) if lat else None,
            "max": round(max(lat)) if lat else None,
            "min": round(min(lat)) if lat else None,
        },
        "behind_live_edge_s": {
            "median": round(statistics.median(behind), 2) if behind else None,
            "min": round(min(behind), 2) if behind else None,
            "max": round(max(behind), 2) if behind else None,
            "samples": len(behind),
        },
        "hls_latency_s_median": round(statistics.median(hls_latency), 2) if hls_latency else None,
        "waiting_events": {"in_window": len(in_window), "total": len(waiting)},
        "dropped_frames": (
            (last.get("dropped") or 0) - (first_stats.get("dropped") or 0) if first_stats else None
        ),
        "decode": {
            "viewer_good": result.viewer.good,
            "viewer_bad": result.viewer.bad,
            "publisher_good": result.publisher.good if result.publisher else None,
            "publisher_bad": result.publisher.bad if result.publisher else None,
            "requestVideoFrameCallback": result.viewer.rvfc,
        },
        "hls_settings": result.hls_settings,
        "notes": result.notes,
    }
    return out


def finite(value):
    """hls.js settings hold Infinity, which JSON has not: write it as a string."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def print_summary(summary: dict) -> None:
    lat, behind = summary["latency_ms"], summary["behind_live_edge_s"]
    print(f"\n== {summary['path']} path ({summary['window_s']} s measured) ==")
    print(
        f"  glass-to-glass latency: p50 {lat['p50']} ms, p90 {lat['p90']} ms, max {lat['max']} ms"
        f" (min {lat['min']} ms) over {summary['matched_frames']} matched frames"
    )
    publisher = summary["publisher_frames"]
    print(
        f"  frames decoded: viewer {summary['viewer_frames']} ({summary['viewer_fps']} fps)"
        + (f", publisher preview {publisher}" if publisher is not None else "")
        + f"; undecodable samples: {summary['decode']}"
    )
    print(
        f"  behind live edge (seekable end - currentTime): median {behind['median']} s,"
        f" min {behind['min']} s, max {behind['max']} s ({behind['samples']} samples);"
        f" hls.js latency median {summary['hls_latency_s_median']} s"
    )
    print(
        f"  stalls ('waiting' events): {summary['waiting_events']['in_window']} in the window,"
        f" {summary['waiting_events']['total']} since the page opened; dropped frames: {summary['dropped_frames']}"
    )
    print(f"  hls.js settings: {json.dumps(summary['hls_settings'])}")
    if summary["notes"]:
        print(f"  notes: {json.dumps(summary['notes'])}")


# -- main ------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds per path (default 60)")
    parser.add_argument("--path", choices=("browser", "rtmp", "both"), default="both")
    parser.add_argument("--warmup", type=float, default=8, help="seconds of playback before measuring")
    parser.add_argument(
        "--hls-override",
        type=json.loads,
        default=None,
        metavar="JSON",
        help="hls.js settings merged over watch.js's, to try values (e.g. '{\"liveSyncDuration\": 1.5}')",
    )
    parser.add_argument(
        "--viewer-rtt", type=float, default=0, metavar="MS", help="delay added to each viewer request (ms)"
    )
    parser.add_argument("--viewer-kbps", type=float, default=0, help="viewer download limit (kbit/s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, instance)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="livelite-latency-"))
    server = None
    summaries = []
    try:
        print(f"working in {workdir}", flush=True)
        y4m = workdir / "barcode.y4m"
        make_y4m(y4m)
        server = Server.start(workdir / "instance")
        print(f"server at {server.url}, RTMP port {server.rtmp_port}", flush=True)
        server.cli(
            "create-user", USERNAME, "--email", f"{USERNAME}@example.com", "--password", PASSWORD,
            "--birthdate", "1990-01-01", "--creator",
        )  # fmt: skip
        chromium_args = [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--autoplay-policy=no-user-gesture-required",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}",
        ]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=chromium_args)
            try:
                paths = ["browser", "rtmp"] if args.path == "both" else [args.path]
                for name in paths:
                    print(
                        f"measuring the {name} path ({args.warmup:g} s warm-up + {args.seconds:g} s)",
                        flush=True,
                    )
                    load_before = os.getloadavg()[0]
                    if name == "browser":
                        result = run_browser_path(browser, server, args)
                    else:
                        wait_until(lambda: not server.get_json("/api/v1/lives"), 30, "the last live to end")
                        result = run_rtmp_path(browser, server, y4m, args)
                    # Other work on the machine competes with the encoders and players.
                    result.notes["load average (1 min) before/after"] = [
                        round(load_before, 2),
                        round(os.getloadavg()[0], 2),
                    ]
                    if args.viewer_rtt or args.viewer_kbps:
                        result.notes["viewer network"] = {"rtt_ms": args.viewer_rtt, "kbps": args.viewer_kbps}
                    if args.hls_override:
                        result.notes["hls override"] = args.hls_override
                    summary = summarize(result)
                    print_summary(summary)
                    summaries.append(summary)
            finally:
                browser.close()
    except (BenchError, PlaywrightError, OSError, http.client.HTTPException) as exc:
        print(f"\nmeasurement failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        if server is not None:
            if server.process.poll() is not None:
                print(f"the server had exited with code {server.process.returncode}", file=sys.stderr)
            print(f"--- server log (end) ---\n{server.log()[-4000:]}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(finite(summaries), indent=2) + "\n")
    failed = [s["path"] for s in summaries if not s["matched_frames"]]
    if failed:
        print(f"\nmeasurement failed: no frame matched on the {', '.join(failed)} path", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
