"""Many gifts at once: no double charge, no negative balance, a balanced ledger.

The same gifts are sent at the same time from OS threads in this process and from
green threads in a second process running under eventlet as the server does, against
one SQLite file. Each idempotency key is sent several times (a double click, a retry,
two tabs) and the senders own coins for only part of what they try to send, so keys
race each other both for the key and for the last coins.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

from factories import make_admin, make_user
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    GiftSend,
    LedgerTransaction,
    Live,
    Role,
    TransactionType,
    User,
)
from livelite.services import gifts, ledger, lives
from livelite.services.errors import DomainError

ROOT = Path(__file__).resolve().parent.parent
SENDERS = 4
COINS_EACH = 200
KEYS_EACH = 60  # at 5 coins a gift only 40 of the 60 can be paid for
THREADS = 8
GREEN_THREADS = 40

GREEN_SCRIPT = r"""
import eventlet
eventlet.monkey_patch()
import json, sys, warnings
warnings.filterwarnings("ignore")
from livelite import create_app
from livelite.extensions import db
from livelite.models import Live, User
from livelite.services import gifts
from livelite.services.errors import DomainError

live_id, host_id, gift_id, jobs, size = json.loads(sys.argv[1])
app = create_app({"RATELIMIT_ENABLED": False})
print("ready", flush=True)
sys.stdin.readline()  # "go": the OS threads start at the same moment

def one(job):
    sender_id, key = job
    with app.app_context():
        eventlet.sleep(0)  # every green thread starts before any finishes
        try:
            sent = gifts.send_gift(db.session.get(Live, live_id), db.session.get(User, sender_id),
                                   host_id, gift_id, 1, key)
            return [sender_id, key, "ok", sent.send.id, sent.created]
        except DomainError as exc:
            db.session.rollback()
            return [sender_id, key, getattr(exc, "code", type(exc).__name__), None, False]
        except Exception as exc:
            db.session.rollback()
            return [sender_id, key, "error: " + repr(exc), None, False]
        finally:
            db.session.remove()

pool = eventlet.GreenPool(size)
print(json.dumps(list(pool.imap(one, jobs))), flush=True)
"""


def _setup(app):
    with app.app_context():
        make_admin()
        host = make_user("host", role=Role.CREATOR)
        senders = [make_user(f"sender{i}") for i in range(SENDERS)]
        live = lives.start_live(host, title="Gifts", visibility="public")
        heart = next(g for g in gifts.catalogue() if g.coins == 5)
        for sender in senders:
            ledger.post(
                TransactionType.GRANT,
                [
                    ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -COINS_EACH),
                    ledger.Leg(ledger.account_id(AccountKind.COINS, sender), COINS_EACH),
                ],
                key=f"setup:{sender.id}",
                reference="test",
            )
        db.session.commit()
        return live.id, host.id, heart.id, [s.id for s in senders]


def _send_from_thread(app, live_id, host_id, gift_id, jobs, results):
    for sender_id, key in jobs:
        with app.app_context():
            try:
                sent = gifts.send_gift(
                    db.session.get(Live, live_id), db.session.get(User, sender_id), host_id, gift_id, 1, key
                )
                results.append([sender_id, key, "ok", sent.send.id, sent.created])
            except DomainError as exc:
                db.session.rollback()
                results.append([sender_id, key, getattr(exc, "code", type(exc).__name__), None, False])
            except Exception as exc:  # noqa: BLE001 - any other failure is what the test looks for
                db.session.rollback()
                results.append([sender_id, key, f"error: {exc!r}", None, False])


def test_racing_gifts_and_retries_never_charge_twice_or_overdraw(app):
    live_id, host_id, gift_id, sender_ids = _setup(app)
    rng = random.Random(6)
    every = [(sender, f"key-{sender}-{n}") for sender in sender_ids for n in range(KEYS_EACH)]
    # Each key is sent once by a thread and once by a green thread, some twice more.
    thread_jobs = every + rng.sample(every, len(every) // 3)
    green_jobs = every + rng.sample(every, len(every) // 3)
    rng.shuffle(thread_jobs)
    rng.shuffle(green_jobs)

    green = subprocess.Popen(
        [
            sys.executable,
            "-c",
            GREEN_SCRIPT,
            json.dumps([live_id, host_id, gift_id, green_jobs, GREEN_THREADS]),
        ],
        cwd=ROOT,
        env={**_env(), "LIVELITE_INSTANCE_PATH": str(app.instance_path)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert green.stdout.readline().strip() == "ready", green.stderr.read()
        results: list[list] = []
        threads = [
            threading.Thread(
                target=_send_from_thread,
                args=(app, live_id, host_id, gift_id, thread_jobs[i::THREADS], results),
            )
            for i in range(THREADS)
        ]
        green.stdin.write("go\n")
        green.stdin.flush()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        out, err = green.communicate(timeout=300)
    finally:
        if green.poll() is None:
            green.kill()
    assert green.returncode == 0, err
    results += json.loads(out.strip().splitlines()[-1])
    assert len(results) == len(thread_jobs) + len(green_jobs)

    outcomes = {outcome for _s, _k, outcome, _id, _c in results}
    assert outcomes <= {"ok", "insufficient_funds"}, sorted(outcomes)
    # Every answer for one key names the same send; it was created exactly once.
    by_key = defaultdict(set)
    created = defaultdict(int)
    for sender, key, outcome, send_id, was_created in results:
        if outcome == "ok":
            by_key[(sender, key)].add(send_id)
            created[(sender, key)] += bool(was_created)
    assert all(len(ids) == 1 for ids in by_key.values())
    assert all(created[key] == 1 for key in by_key)

    with app.app_context():
        sends = db.session.scalars(select(GiftSend).where(GiftSend.live_id == live_id)).all()
        assert len(sends) == len(by_key)
        assert {s.id for s in sends} == {next(iter(ids)) for ids in by_key.values()}
        per_sender = defaultdict(int)
        for send in sends:
            per_sender[send.sender_id] += send.coins
        for sender in sender_ids:
            spent = per_sender[sender]
            # Funds for 40 of 60 keys, every key tried: all the coins went, not one more.
            assert spent == COINS_EACH
            assert ledger.balance(sender) == 0
        assert ledger.balance(host_id, AccountKind.DIAMONDS) == sum(s.diamonds for s in sends)
        gift_transactions = db.session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.type == TransactionType.GIFT)
        )
        assert gift_transactions == len(sends)
        assert ledger.check() == []


def _env() -> dict:
    import os

    return {name: value for name, value in os.environ.items() if not name.startswith("LIVELITE_")}
