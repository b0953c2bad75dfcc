"""Gifts in lives, for the templates: where to get coins (the picker's "Get coins")."""

from __future__ import annotations

from livelite.blueprints.lives import bp
from livelite.services import gifts


@bp.app_template_global()
def gift_wallet_url() -> str:
    """The wallet, where a viewer gets the coins their gifts cost."""
    return gifts.wallet_url()
