#!/usr/bin/env python
"""How long the dashboards' figures take on a site with a month of history: not run by CI.

    python bench/dashboards.py [--days 30] [--lives-per-day 10] [--viewers 200] [--webhooks 200]

A fresh SQLite database built by the migrations gets ``--days`` of lives
(``--lives-per-day``, one hour each, sampled every 15 s as the sampler does), each with
``--viewers`` attendance rows (half of them coming back once) and 1000 chat messages,
plus one long live (4 hours, 2000 viewers, 20 000 messages). Rows are bulk-inserted
(not timed). Then, each measured cold once and warm over 5 runs (median):

1. ``analytics.live_figures`` of the long live (the per-live analytics page);
2. ``analytics.summaries`` of a page of 20 lives (Settings → Analytics);
3. ``analytics.site_days`` over 30 days (the admin overview chart);
4. ``dashboard.overview`` (the admin overview's figures);
5. ``classes`` attendance of the long live (the attendance page and CSV);
6. the sampler (``analytics.sample``) with 20 lives on at once;
7. attendance join + leave (what each viewer's connect and disconnect write);
8. webhooks: ``--webhooks`` deliveries queued and posted by ``deliver_due`` to a local
   HTTP receiver that answers 204 (deliveries per second, one sender).

Everything runs in a temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def timed(label: str, func, runs: int = 5) -> None:
    start = time.perf_counter()
    func()
    cold = time.perf_counter() - start
    warm = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        warm.append(time.perf_counter() - start)
    print(f"  {label:<48} cold {cold * 1000:8.1f} ms   warm median {statistics.median(warm) * 1000:8.1f} ms")


class Receiver(BaseHTTPRequestHandler):
    count = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.count += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--lives-per-day", type=int, default=10)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--webhooks", type=int, default=200)
    args = parser.parse_args()

    import flask_migrate
    from sqlalchemy import insert
    from werkzeug import security

    from livelite import create_app
    from livelite.extensions import db
    from livelite.models import Attendance, ChatMessage, Live, LiveSample, LiveStatus, Role, User
    from livelite.models.base import utcnow
    from livelite.services import accounts, analytics, classes, dashboard, lives, webhooks

    with tempfile.TemporaryDirectory(prefix="livelite-bench-dash-") as work:
        app = create_app({"INSTANCE_PATH": Path(work) / "instance", "RATELIMIT_ENABLED": False})
        accounts.generate_password_hash = partial(security.generate_password_hash, method="pbkdf2:sha256:1")
        with app.app_context():
            with contextlib.redirect_stderr(io.StringIO()):
                flask_migrate.upgrade()
            admin = accounts.register(
                username="boss", display_name="Boss", email="admin@example.com",
                password=secrets.token_urlsafe(12), birth_date=date(1980, 1, 1), role=Role.ADMIN,
                check_open=False,
            )  # fmt: skip
            host = accounts.register(
                username="host", display_name="Host", email="host@example.com",
                password=secrets.token_urlsafe(12), birth_date=date(1980, 1, 1), role=Role.CREATOR,
                check_open=False,
            )  # fmt: skip
            people = 2000
            now = utcnow()
            db.session.execute(
                insert(User),
                [
                    {
                        "username": f"viewer{i}", "display_name": f"Viewer {i}",
                        "email": f"viewer{i}@example.com", "password_hash": "x",
                        "birth_date": date(1990, 1, 1), "created_at": now - timedelta(days=i % args.days),
                    }
                    for i in range(people)
                ],
            )  # fmt: skip
            viewer_ids = [
                row[0] for row in db.session.execute(db.select(User.id).where(User.username.like("viewer%")))
            ]

            print(f"Building {args.days} days × {args.lives_per_day} lives, {args.viewers} viewers each …")
            t0 = time.perf_counter()
            live_ids = []
            for day in range(args.days):
                for n in range(args.lives_per_day):
                    started = now - timedelta(days=day, hours=2 + n)
                    live = Live(
                        host_id=host.id, title=f"Live {day}-{n}", status=LiveStatus.ENDED,
                        started_at=started, ended_at=started + timedelta(hours=1), end_reason="host",
                    )  # fmt: skip
                    db.session.add(live)
                    db.session.flush()
                    live_ids.append(live.id)
                    fill_live(
                        db,
                        live,
                        viewer_ids,
                        args.viewers,
                        3600,
                        1000,
                        LiveSample,
                        Attendance,
                        ChatMessage,
                        insert,
                    )
            long_start = now - timedelta(hours=5)
            long_live = Live(
                host_id=host.id, title="Four hours", status=LiveStatus.ENDED, started_at=long_start,
                ended_at=long_start + timedelta(hours=4), end_reason="host",
            )  # fmt: skip
            db.session.add(long_live)
            db.session.flush()
            fill_live(
                db, long_live, viewer_ids, 2000, 4 * 3600, 20_000, LiveSample, Attendance, ChatMessage, insert
            )
            db.session.commit()
            counts = {
                model.__tablename__: db.session.scalar(db.select(db.func.count()).select_from(model))
                for model in (Live, LiveSample, Attendance, ChatMessage)
            }
            print(f"  built in {time.perf_counter() - t0:.1f} s: {counts}")

            print("\nReading")
            long_id = long_live.id
            timed(
                "live_figures (4 h, 2000 viewers, 20k messages)",
                lambda: analytics.live_figures(db.session.get(Live, long_id)),
            )
            page = list(db.session.scalars(db.select(Live).order_by(Live.id.desc()).limit(20)))
            timed("summaries of 20 lives", lambda: analytics.summaries(page))
            timed("site_days(30)", lambda: analytics.site_days(admin, 30))
            timed("dashboard.overview", lambda: dashboard.overview(admin, app))
            timed(
                "attendance of the long live", lambda: classes.attendance(db.session.get(Live, long_id), host)
            )

            print("\nWriting")
            on_air = []
            for n in range(20):
                live = lives.start_live(
                    accounts.register(
                        username=f"host{n}", display_name="H", email=f"h{n}@example.com",
                        password="x" * 12, birth_date=date(1980, 1, 1), role=Role.CREATOR, check_open=False,
                    ),
                    title=f"On air {n}",
                )  # fmt: skip
                on_air.append(live.id)
            presence = app.extensions["livelite.presence"]
            for live_id in on_air:
                for i in range(100):
                    presence.join(live_id, f"user:{viewer_ids[i]}", f"sid-{live_id}-{i}")
                    analytics.attendance_join(live_id, f"user:{viewer_ids[i]}")
            timed("sample() with 20 lives on, 2000 open rows", lambda: analytics.sample(presence))
            ops = 500
            start = time.perf_counter()
            for i in range(ops):
                identity = f"user:{viewer_ids[100 + i % 1000]}"
                analytics.attendance_join(on_air[0], identity)
                analytics.attendance_leave(on_air[0], identity)
            took = time.perf_counter() - start
            print(f"  {'attendance join + leave':<48} {took / ops * 1000:8.2f} ms per pair ({ops} pairs)")

            print(f"\nWebhooks: {args.webhooks} deliveries to a local receiver")
            server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            webhooks.create_webhook(
                admin, url=f"http://127.0.0.1:{server.server_port}/hook", events=["live.started"]
            )
            start = time.perf_counter()
            for i in range(args.webhooks):
                webhooks.enqueue("live.started", {"id": i, "title": f"Live {i}"})
            queued = time.perf_counter() - start
            start = time.perf_counter()
            sent = 0
            while sent < args.webhooks:
                done = webhooks.deliver_due(limit=50)
                if not done:
                    break
                sent += done
            posted = time.perf_counter() - start
            server.shutdown()
            print(
                f"  queued in {queued * 1000:.0f} ms ({queued / args.webhooks * 1000:.2f} ms each); "
                f"posted {Receiver.count} in {posted:.2f} s ({Receiver.count / posted:.0f} deliveries/s)"
            )


def fill_live(db, live, viewer_ids, viewers, seconds, messages, LiveSample, Attendance, ChatMessage, insert):
    start = live.started_at
    ticks = seconds // 15
    db.session.execute(
        insert(LiveSample),
        [
            {"live_id": live.id, "at": start + timedelta(seconds=15 * t),
             "viewers": min(viewers, t * 3) if t < ticks // 2 else viewers // 2, "likes": t * 7}
            for t in range(ticks)
        ],
    )  # fmt: skip
    rows = []
    for i in range(viewers):
        joined = start + timedelta(seconds=(i * 7) % (seconds // 2))
        left = joined + timedelta(seconds=seconds // 4)
        identity = f"user:{viewer_ids[i % len(viewer_ids)]}"
        user_id = viewer_ids[i % len(viewer_ids)]
        rows.append({"live_id": live.id, "identity": identity, "user_id": user_id,
                     "joined_at": joined, "left_at": left, "seen_at": left})  # fmt: skip
        if i % 2 == 0:  # came back once
            back = left + timedelta(seconds=60)
            rows.append({"live_id": live.id, "identity": identity, "user_id": user_id,
                         "joined_at": back, "left_at": back + timedelta(seconds=300), "seen_at": back})  # fmt: skip
    db.session.execute(insert(Attendance), rows)
    db.session.execute(
        insert(ChatMessage),
        [
            {"live_id": live.id, "user_id": viewer_ids[i % len(viewer_ids)], "body": f"Message {i}",
             "created_at": start + timedelta(milliseconds=i * seconds * 1000 // messages),
             "offset_ms": i * seconds * 1000 // messages}
            for i in range(messages)
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
