#!/usr/bin/env python
"""How fast an uploaded short video becomes ready: ``livelite.media.transcode.convert``.

    python bench/video_convert.py [--sizes 720x1280,1080x1920,1920x1080] [--seconds 30]

For each size, a clip is encoded beforehand the way phones record (H.264 high, ~10
Mbit/s, AAC; ``busy`` = testsrc2 with temporal noise, the hard case), then converted
with the exact command the app's queue runs (niceness 10, one at a time). Printed per
size: wall time, speed (media seconds per wall second; 1.00× = a 30 s video is ready
30 s after upload), ffmpeg CPU (utime+stime of the child, in % of one core over the
wall time), output size and bitrate, and the thumbnail time (OpenCV).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import imageio_ffmpeg  # noqa: E402

from livelite.media import transcode  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(path: Path, size: str, seconds: int) -> None:
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            FFMPEG, "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30,noise=alls=20:allf=t",
            "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", str(seconds),
            "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-b:v", "10M",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(path),
        ],
        check=True,
    )  # fmt: skip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="720x1280,1080x1920,1920x1080")
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            source = Path(tmp) / f"in-{size}.mp4"
            target = Path(tmp) / f"out-{size}.mp4"
            print(f"Encoding a {args.seconds} s {size} source…", flush=True)
            make_clip(source, size, args.seconds)
            probe = transcode.probe(source)
            cpu_before = children_cpu()
            started = time.monotonic()
            transcode.convert(
                FFMPEG, source, target, duration_s=probe.duration_s, log_path=Path(tmp) / f"{size}.log"
            )
            wall = time.monotonic() - started
            cpu = children_cpu() - cpu_before
            out = transcode.probe(target)
            thumb_started = time.monotonic()
            thumb = transcode.thumbnail(target, out.duration_s)
            thumb_ms = 1000 * (time.monotonic() - thumb_started)
            size_mb = target.stat().st_size / 1e6
            rows.append(
                (
                    size,
                    f"{out.width}x{out.height}",
                    wall,
                    probe.duration_s / wall,
                    100 * cpu / wall,
                    source.stat().st_size / 1e6,
                    size_mb,
                    8 * size_mb / max(out.duration_s, 0.001),
                    thumb_ms if thumb else float("nan"),
                )
            )
    print()
    print(
        "| source | output | wall | speed | ffmpeg CPU | source MB | output MB | output Mbit/s | thumbnail |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size, outsize, wall, speed, cpu, src_mb, out_mb, mbps, thumb_ms in rows:
        print(
            f"| {size} {args.seconds} s | {outsize} | {wall:.1f} s | {speed:.2f}× | {cpu:.0f} % |"
            f" {src_mb:.1f} | {out_mb:.1f} | {mbps:.1f} | {thumb_ms:.0f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
