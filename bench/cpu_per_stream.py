#!/usr/bin/env python
"""CPU used by the ingest for one 720p30 stream, and how many transcodes the machine holds.

    python bench/cpu_per_stream.py [--seconds 30] [--scenarios h264:busy:1,vp8:busy:3,...]

Each scenario runs ``livelite.media.ingest.FeedIngest`` (one ffmpeg per feed, HLS fMP4
out, the exact command the app runs) in this process, fed in real time with media that
was encoded beforehand:

* ``h264``: an OBS-like FLV (libx264 veryfast, 2500k CBR-ish, keyframe every second,
  AAC), written one FLV tag per ``write`` at the tag's timestamp, as the RTMP listener
  does. The ingest copies the video.
* ``h264rtmp``: the same FLV pushed with ``ffmpeg -re -c copy`` through the app's own
  RTMP listener (``livelite.media.rtmp.RtmpServer``) into the ingest, so the Python
  figure includes the RTMP protocol work done for every OBS publisher.
* ``vp8``: a MediaRecorder-like WebM (libvpx realtime, 2500k, keyframe every second,
  Opus), written one Cluster (about one second) per ``write`` when that second is over,
  as the browser studio's one-second chunks arrive. The ingest transcodes to H.264
  (libx264 veryfast zerolatency).

Sources: ``busy`` is testsrc2 scrolling plus temporal noise (a moving, grainy picture:
hard to compress, the expensive case); ``calm`` is plain testsrc2 (mostly still).

Figures, over the steady window (from ``WARMUP_S`` after the first byte to the end of
the input):

* ffmpeg CPU: utime+stime of every ingest ffmpeg from ``/proc/<pid>/stat``, as % of one
  core (100 % = one core busy). Several streams: the sum, and per stream.
* Python CPU: this process's own CPU (``getrusage(RUSAGE_SELF)``) less the sampler
  thread's: the writer threads, ``FeedIngest.write``, the ``-progress`` reader with its
  health figures, and for ``h264rtmp`` the RTMP listener.
* speed: media seconds that reached the playlist per wall second (1.00 = real time).
  ``lag`` is wall seconds since the first byte less media seconds in the playlist, at
  the end of the input; ``lag growth`` its slope over the window (0 when keeping up;
  positive when segments fall further behind real time every second). ``late`` is how
  far behind schedule the writer was at the end (a full pipe to a busy ffmpeg blocks it:
  in the app that backpressure reaches the publisher).
* other load: the machine's busy time (``/proc/stat``) not spent by this benchmark, as
  % of one core: other programs running at the same time skew everything above.

No thresholds; the exit status is non-zero only if the measurement itself fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import imageio_ffmpeg  # noqa: E402

from livelite.media import hls  # noqa: E402
from livelite.media.ingest import FeedIngest  # noqa: E402
from livelite.media.rtmp import RtmpServer  # noqa: E402

FFMPEG = os.environ.get("LIVELITE_FFMPEG_PATH") or imageio_ffmpeg.get_ffmpeg_exe()
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_S = 5.0
SAMPLE_S = 0.5
DEFAULT_SCENARIOS = (
    "h264:busy:1,h264:calm:1,h264rtmp:busy:1,vp8:busy:1,vp8:calm:1,vp8:busy:2,vp8:busy:3,vp8:calm:3"
)
SOURCES = {
    # A moving, grainy picture (the whole frame scrolls; the noise changes every frame).
    "busy": "testsrc2=size=1280x720:rate=30,scroll=horizontal=0.003:vertical=0.002,noise=alls=14:allf=t+u",
    "calm": "testsrc2=size=1280x720:rate=30",
}


# -- sources -----------------------------------------------------------------------
def encode_sources(directory: Path, seconds: int, needed: set[tuple[str, str]]) -> dict:
    """Pre-encode each (container, picture) pair once; returns {(kind, source): path}."""
    paths = {}
    for kind, source in sorted(needed):
        container = "webm" if kind == "vp8" else "flv"
        path = directory / f"{source}-{container}.{container}"
        paths[(kind, source)] = path
        if path.exists():
            continue
        if container == "flv":
            codec = [
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
                "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
                "-c:a", "aac", "-b:a", "128k", "-f", "flv",
            ]  # fmt: skip
        else:
            codec = [
                "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p",
                "-b:v", "2500k", "-g", "30", "-keyint_min", "30", "-auto-alt-ref", "0",
                "-c:a", "libopus", "-b:a", "128k",
                "-f", "webm", "-cluster_time_limit", "1000", "-cluster_size_limit", "8000000",
            ]  # fmt: skip
        command = [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", SOURCES[source],
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds), "-ac", "2", "-ar", "48000", *codec, str(path),
        ]  # fmt: skip
        started = time.monotonic()
        subprocess.run(command, check=True, timeout=600)  # noqa: S603 - fixed argv
        size = path.stat().st_size
        print(
            f"  encoded {path.name}: {seconds} s, {size * 8 / seconds / 1000:.0f} kbit/s "
            f"in {time.monotonic() - started:.1f} s",
            flush=True,
        )
    return paths


def flv_chunks(data: bytes) -> list[tuple[float, bytes]]:
    """(send time in s, bytes): the FLV header, then one tag (+ PreviousTagSize) each."""
    if not data.startswith(b"FLV"):
        raise ValueError("not an FLV file")
    header_size = int.from_bytes(data[5:9], "big")
    chunks = [(0.0, data[: header_size + 4])]
    pos = header_size + 4
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        end = pos + 11 + size + 4
        chunks.append((ts / 1000, data[pos:end]))
        pos = end
    return chunks


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def webm_chunks(data: bytes) -> list[tuple[float, bytes]]:
    """(send time in s, bytes): the header with the first Cluster, then one Cluster each,
    each sent when its second is over (a MediaRecorder chunk arrives at its end)."""
    segment_id, cluster_id, timestamp_id = 0x18538067, 0x1F43B675, 0xE7
    pos = 0
    element, pos = _vint(data, pos, True)
    size, pos = _vint(data, pos, False)
    pos += size  # EBML header
    element, pos = _vint(data, pos, True)
    if element != segment_id:
        raise ValueError("no Segment after the EBML header")
    _size, pos = _vint(data, pos, False)
    clusters: list[tuple[int, int, float]] = []
    while pos < len(data):
        start = pos
        element, pos = _vint(data, pos, True)
        size, pos = _vint(data, pos, False)
        if element == cluster_id:
            child, child_pos = _vint(data, pos, True)
            child_size, child_pos = _vint(data, child_pos, False)
            if child != timestamp_id:
                raise ValueError("a Cluster without its Timestamp first")
            ts = int.from_bytes(data[child_pos : child_pos + child_size], "big") / 1000
            clusters.append((start, pos + size, ts))
        pos += size
    if not clusters:
        raise ValueError("no Cluster in the WebM file")
    chunks = []
    for index, (start, end, ts) in enumerate(clusters):
        following = clusters[index + 1][2] if index + 1 < len(clusters) else ts + 1.0
        chunks.append((following, data[0 if index == 0 else start : end]))
    return chunks


# -- measuring ---------------------------------------------------------------------
def proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def system_busy_seconds() -> float:
    """All CPUs' non-idle time since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Sample:
    t: float
    ffmpeg: list[float | None]
    media: list[float]
    python: float
    sampler: float
    system: float
    pusher: float | None = None


@dataclass
class Stream:
    index: int
    ingest: FeedIngest
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    late_s: float = 0.0
    max_late_s: float = 0.0
    error: str | None = None
    pid: int | None = None
    progress_blocks: int = 0

    def on_progress(self, _health) -> None:
        self.progress_blocks += 1


class Sampler(threading.Thread):
    def __init__(self, streams: list[Stream], t0: float, pusher: subprocess.Popen | None = None):
        super().__init__(name="sampler", daemon=True)
        self.streams, self.t0, self.pusher = streams, t0, pusher
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.last: dict[int, float] = {}

    def take(self) -> Sample:
        cpus = []
        for stream in self.streams:
            process = stream.ingest.process
            value = None
            if process is not None:
                stream.pid = process.pid
                value = proc_cpu_seconds(process.pid)
            if value is not None:
                self.last[stream.index] = value
            cpus.append(self.last.get(stream.index))
        media = [hls.total_duration(stream.ingest.out_dir) for stream in self.streams]
        pusher = proc_cpu_seconds(self.pusher.pid) if self.pusher is not None else None
        return Sample(
            t=time.monotonic() - self.t0,
            ffmpeg=cpus,
            media=media,
            python=self_cpu_seconds(),
            sampler=time.thread_time(),
            system=system_busy_seconds(),
            pusher=pusher,
        )

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.take())
            self.stop.wait(SAMPLE_S)
        self.samples.append(self.take())


def write_paced(stream: Stream, t0: float) -> None:
    """Write each chunk at its time; remember how late the writer got."""
    try:
        for when, chunk in stream.chunks:
            delay = t0 + when - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                stream.max_late_s = max(stream.max_late_s, -delay)
            stream.ingest.write(chunk)
        stream.late_s = max(0.0, time.monotonic() - t0 - stream.chunks[-1][0])
    except Exception as exc:  # noqa: BLE001 - reported with the figures
        stream.error = f"{type(exc).__name__}: {exc}"


@dataclass
class Result:
    name: str
    kind: str
    source: str
    count: int
    window_s: float
    ffmpeg_pct: list[float]
    python_pct: float
    pusher_pct: float | None
    speed: list[float]
    lag_end: list[float]
    lag_growth: list[float]
    late_s: list[float]
    drain_s: float
    other_pct: float
    output_kbps: list[float]
    errors: list[str]
    progress_per_s: float
    out_dir: str

    def as_dict(self) -> dict:
        return self.__dict__


def run_scenario(kind: str, source: str, count: int, path: Path, work: Path, seconds: int) -> Result:
    name = f"{kind}:{source}:{count}"
    out = Path(tempfile.mkdtemp(prefix=name.replace(":", "-") + "-", dir=work))
    data = path.read_bytes()
    chunks = webm_chunks(data) if kind == "vp8" else flv_chunks(data)
    streams = []
    for index in range(count):
        ingest = FeedIngest(
            out / f"feed-{index}",
            input_format="webm" if kind == "vp8" else "flv",
            video_codec="vp8" if kind == "vp8" else None,
            ffmpeg=FFMPEG,
            segment_seconds=1,
        )
        stream = Stream(index, ingest, chunks)
        ingest.on_progress = stream.on_progress
        streams.append(stream)
    pusher = None
    server = None
    t0 = time.monotonic()
    for stream in streams:
        stream.ingest.started_at = time.time()
    if kind == "h264rtmp":
        server, pusher = start_rtmp_push(streams, path)
        sampler = Sampler(streams, t0, pusher)
        sampler.start()
        pusher.wait(timeout=seconds + 60)
        time.sleep(0.3)  # the listener hands the last tags over
    else:
        sampler = Sampler(streams, t0)
        sampler.start()
        writers = [
            threading.Thread(target=write_paced, args=(s, t0), name=f"writer-{s.index}", daemon=True)
            for s in streams
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=seconds + 120)
    sampler.stop.set()
    sampler.join()
    end_input = time.monotonic()
    for stream in streams:
        stream.ingest.finish(timeout=60)
    drain = time.monotonic() - end_input
    if server is not None:
        server.stop()
    return summarize(name, kind, source, streams, sampler.samples, drain, count)


def output_kbps(out_dir: Path) -> float:
    media = hls.total_duration(out_dir)
    size = sum(p.stat().st_size for p in out_dir.glob("run-*.m4s"))
    return size * 8 / 1000 / media if media else float("nan")


def start_rtmp_push(streams: list[Stream], path: Path):
    stream = streams[0]

    class Sink:
        def write(self, data: bytes) -> None:
            stream.ingest.write(data)

        def close(self, clean: bool = False) -> None:
            pass

    server = RtmpServer("127.0.0.1", 0, lambda app, key, peer: Sink())
    port = server.start()
    command = [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-i", str(path),
        "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{port}/live/bench-key",
    ]  # fmt: skip
    pusher = subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603 - fixed argv
    return server, pusher


def summarize(name, kind, source, streams, samples, drain, count) -> Result:
    window = [s for s in samples if s.t >= WARMUP_S]
    if len(window) < 3:
        raise RuntimeError(f"{name}: too short to measure (use --seconds 20 or more)")
    first, last = window[0], window[-1]
    span = last.t - first.t
    ffmpeg_pct, speed, lag_end, growth, kbps = [], [], [], [], []
    errors = [s.error for s in streams if s.error]
    for index, stream in enumerate(streams):
        a, b = first.ffmpeg[index], last.ffmpeg[index]
        ffmpeg_pct.append(100 * (b - a) / span if a is not None and b is not None else float("nan"))
        speed.append((last.media[index] - first.media[index]) / span)
        lag_first = first.t - first.media[index]
        lag_last = last.t - last.media[index]
        lag_end.append(lag_last)
        growth.append((lag_last - lag_first) / span)
        kbps.append(output_kbps(stream.ingest.out_dir))
        if stream.ingest.health.restarts:
            errors.append(f"stream {index}: {stream.ingest.health.restarts} ffmpeg restart(s)")
    python = (last.python - first.python) - (last.sampler - first.sampler)
    pusher = None
    if first.pusher is not None and last.pusher is not None:
        pusher = 100 * (last.pusher - first.pusher) / span
    ours = sum(p for p in ffmpeg_pct if p == p) + 100 * python / span + (pusher or 0)
    other = 100 * (last.system - first.system) / span - ours
    return Result(
        name=name,
        kind=kind,
        source=source,
        count=count,
        window_s=span,
        ffmpeg_pct=ffmpeg_pct,
        python_pct=100 * python / span,
        pusher_pct=pusher,
        speed=speed,
        lag_end=lag_end,
        lag_growth=growth,
        late_s=[s.late_s for s in streams],
        drain_s=drain,
        other_pct=max(0.0, other),
        output_kbps=kbps,
        errors=errors,
        progress_per_s=statistics.mean(s.progress_blocks for s in streams) / samples[-1].t,
        out_dir=str(streams[0].ingest.out_dir),
    )


# -- the health figures as a live gets longer ---------------------------------------
def progress_cost(real_feed: Path, work: Path) -> list[tuple[str, float]]:
    """ms that ``FeedIngest._apply_progress`` (run for every ``-progress`` block ffmpeg
    writes) takes when the live has lasted 1 min, 1 h and 4 h: it re-reads the whole
    event playlist, twice, and the newest segments. The newest three segments and the
    init are real files from a run above; the others are empty files (so the directory
    holds as many entries as a real one)."""
    runs = hls.feed_runs(real_feed)
    if not runs or len(runs[-1].segments) < 3:
        return []
    run = runs[-1]
    rows = []
    for label, count in (("1 min", 60), ("1 h", 3600), ("4 h", 14400)):
        feed = work / f"progress-{count}"
        feed.mkdir(parents=True, exist_ok=True)
        (feed / "run-0001-init.mp4").write_bytes((real_feed / run.init).read_bytes())
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
        lines += ["#EXT-X-PLAYLIST-TYPE:EVENT", '#EXT-X-MAP:URI="run-0001-init.mp4"']
        real = run.segments[-3:]
        for index in range(count):
            name = f"run-0001-{index:05d}.m4s"
            source = real[index - (count - 3)] if index >= count - 3 else None
            if source is not None:
                (feed / name).write_bytes((real_feed / source.uri).read_bytes())
            else:
                (feed / name).touch()
            lines += ["#EXTINF:1.000000,", name]
        (feed / "run-0001.m3u8").write_text("\n".join(lines) + "\n")
        ingest = FeedIngest(feed, input_format="flv", video_codec="h264", ffmpeg=FFMPEG)
        block = {"fps": "30.0", "bitrate": "N/A", "speed": "1.0x", "progress": "continue"}
        ingest._apply_progress(block)
        repeats = 5
        started = time.process_time()
        for _ in range(repeats):
            ingest._apply_progress(block)
        rows.append((label, 1000 * (time.process_time() - started) / repeats))
    return rows


def wait_for_quiet(limit_s: float, max_pct: float = 30.0) -> None:
    """Wait (at most ``limit_s``) until the rest of the machine uses under ``max_pct`` % of a core."""
    deadline = time.monotonic() + limit_s
    while True:
        busy, own, started = system_busy_seconds(), self_cpu_seconds(), time.monotonic()
        time.sleep(3)
        span = time.monotonic() - started
        other = 100 * ((system_busy_seconds() - busy) - (self_cpu_seconds() - own)) / span
        if other < max_pct or time.monotonic() > deadline:
            if other >= max_pct:
                print(f"  (the machine is still busy: {other:.0f} % of a core used by other programs)")
            return


# -- report ------------------------------------------------------------------------
LABELS = {"h264": "H.264 copy", "h264rtmp": "H.264 copy via RTMP", "vp8": "VP8 → libx264"}


def print_table(results: list[Result]) -> None:
    header = (
        "| input | picture | streams | ffmpeg CPU (sum) | per stream | Python CPU | speed (min) "
        "| lag at end | lag growth | writer late | out kbit/s | other load |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in results:
        per = "/".join(f"{p:.0f}" for p in r.ffmpeg_pct)
        print(
            f"| {LABELS[r.kind]} | {r.source} | {r.count} | {sum(r.ffmpeg_pct):.1f} % | {per} % "
            f"| {r.python_pct:.1f} % | {min(r.speed):.2f}× | {max(r.lag_end):.1f} s "
            f"| {max(r.lag_growth):+.2f} s/s | {max(r.late_s):.1f} s "
            f"| {statistics.mean(r.output_kbps):.0f} | {r.other_pct:.0f} % |"
        )
    for r in results:
        if r.pusher_pct is not None:
            print(
                f"\n{r.name}: the pushing ffmpeg (-re -c copy, stands in for OBS) used {r.pusher_pct:.1f} %."
            )
        for error in r.errors:
            print(f"{r.name}: {error}")


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs ({model}), load average before {load[0]:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, ffmpeg {Path(FFMPEG).name}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of each run (default 30)")
    parser.add_argument(
        "--scenarios",
        default=DEFAULT_SCENARIOS,
        help="comma-separated KIND:PICTURE:COUNT, KIND in h264, h264rtmp, vp8; PICTURE busy or calm",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        help="before each run, wait up to this many seconds for other programs to go quiet",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    scenarios = []
    for item in args.scenarios.split(","):
        kind, source, count = item.strip().split(":")
        if kind not in LABELS or source not in SOURCES:
            parser.error(f"unknown scenario {item}")
        scenarios.append((kind, source, int(count)))

    print(f"Machine: {machine()}", flush=True)
    results = []
    growth: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="livelite-cpu-") as tmp:
        work = Path(tmp)
        needed = {("vp8" if k == "vp8" else "h264", s) for k, s, _ in scenarios}
        print("Encoding the sources:", flush=True)
        paths = encode_sources(work, args.seconds, needed)
        for kind, source, count in scenarios:
            if args.quiet_wait:
                wait_for_quiet(args.quiet_wait)
            print(f"Running {kind}:{source}:{count} for {args.seconds} s…", flush=True)
            path = paths[("vp8" if kind == "vp8" else "h264", source)]
            result = run_scenario(kind, source, count, path, work, args.seconds)
            results.append(result)
            print(
                f"  ffmpeg {sum(result.ffmpeg_pct):.1f} %, Python {result.python_pct:.1f} %, "
                f"speed {min(result.speed):.2f}×, lag {max(result.lag_end):.1f} s, "
                f"other load {result.other_pct:.0f} %",
                flush=True,
            )
        if results:
            growth = progress_cost(Path(results[0].out_dir), work)
    print()
    print(f"Machine: {machine()}")
    print(f"Window: {WARMUP_S:.0f} s after the first byte to the end of {args.seconds} s of input.\n")
    print_table(results)
    if growth:
        rate = statistics.mean(r.progress_per_s for r in results)
        print(
            f"\nHealth figures: ffmpeg writes {rate:.1f} -progress blocks/s per stream; "
            "each runs FeedIngest._apply_progress, whose cost grows with the live:"
        )
        for label, ms in growth:
            print(f"  live {label} old: {ms:.1f} ms per block → {ms * rate / 10:.1f} % of a core per stream")
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
