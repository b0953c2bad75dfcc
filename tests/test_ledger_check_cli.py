"""``flask --app app ledger-check``: a summary and exit 0 when the books agree; each
mismatch named and exit 1 when a balance or an entry was changed behind the ledger."""

from __future__ import annotations

from factories import make_admin, make_user
from sqlalchemy import text

from livelite.extensions import db
from livelite.models import AccountKind
from livelite.services import coins, ledger


def mismatches(result) -> list[str]:
    """The mismatch lines (stderr also carries Alembic's INFO lines)."""
    return [line for line in result.stderr.splitlines() if line.startswith("MISMATCH")]


def movements(app) -> tuple[int, int]:
    """A purchase approved and a grant: 3 accounts, 2 transactions, 4 entries.
    Returns the ids of @vic and of his coins account."""
    with app.app_context():
        admin = make_admin()
        vic = make_user("vic", age=30)
        package = next(p for p in coins.active_packages() if p.coins == 350)
        coins.approve(admin, coins.request_coins(vic, package.id, "manual", "k").request)
        coins.grant(admin, "vic", 50, "Reward", "g")
        return vic.id, ledger.account_id(AccountKind.COINS, vic)


def test_an_empty_ledger_is_clean(app, runner):
    result = runner.invoke(args=["ledger-check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Checked 0 accounts, 0 transactions, 0 entries: the ledger balances."


def test_a_clean_ledger_exits_0_with_a_summary(app, runner):
    movements(app)
    result = runner.invoke(args=["ledger-check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Checked 3 accounts, 2 transactions, 4 entries: the ledger balances."
    assert mismatches(result) == []


def test_a_tampered_balance_exits_1_naming_the_account(app, runner):
    vic_id, account = movements(app)
    with app.app_context():
        db.session.execute(
            text("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = :id"), {"id": account}
        )
        db.session.commit()
    result = runner.invoke(args=["ledger-check"])
    assert result.exit_code == 1
    assert mismatches(result) == [
        f"MISMATCH balance: account {account} (user {vic_id}, coins): cached 401, entries sum to 400"
    ]
    assert result.stdout.strip() == "Checked 3 accounts, 2 transactions, 4 entries: 1 mismatch."


def test_a_tampered_entry_exits_1_with_every_mismatch(app, runner):
    vic_id, account = movements(app)
    with app.app_context():
        db.session.execute(
            text("UPDATE ledger_entries SET amount = amount + 7 WHERE account_id = :id AND amount = 50"),
            {"id": account},
        )
        db.session.commit()
    result = runner.invoke(args=["ledger-check"])
    assert result.exit_code == 1
    lines = mismatches(result)
    assert any(line.startswith("MISMATCH unbalanced: transaction ") and "sums to 7" in line for line in lines)
    assert (
        f"MISMATCH balance: account {account} (user {vic_id}, coins): cached 400, entries sum to 407" in lines
    )
    assert "MISMATCH total: all entries sum to 7" in lines
    assert result.stdout.strip().endswith(f"{len(lines)} mismatches.")
