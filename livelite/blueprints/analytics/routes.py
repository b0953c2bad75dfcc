"""Analytics pages and the admin overview chart's data.

``/lives/<id>/analytics`` is for the live's host and admins (403 for anyone else, as
the other host pages answer); ``/settings/analytics`` lists the signed-in person's
lives; ``/admin/analytics`` and ``/admin/analytics.json`` are admins' (the JSON is the same
per-day series for scripts). The overview chart H1's /admin/ includes
(templates/admin/_overview_chart.html) reads them through the ``analytics_site_days``
template global, so it needs nothing from the including page's context.
"""

from datetime import date

from flask import jsonify, render_template, request
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.analytics import bp
from livelite.services import analytics, lives, replays
from livelite.services.admin import require_admin

DAY_CHOICES = (14, 30)


@bp.app_template_global()
def analytics_number(value) -> str:
    """A figure with the locale's grouping (1,234 / 1 234)."""
    return format_decimal(value or 0)


@bp.app_template_global()
def analytics_duration(seconds: int) -> str:
    """A length of time as people say it: "1 h 05 min", "12 min 30 s", "40 s"."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)s h %(m)s min", h=hours, m=f"{minutes:02d}")
    if minutes:
        return _("%(m)s min %(s)s s", m=minutes, s=f"{secs:02d}")
    return _("%(s)s s", s=secs)


@bp.app_template_filter()
def analytics_clock(seconds: int) -> str:
    """A time into the live as players show it: 4:05, 1:02:05."""
    return replays.clock(seconds)


@bp.app_template_filter()
def analytics_minute(minute: int) -> str:
    """The start of a one-minute bucket, as a time into the live."""
    return replays.clock(minute * 60)


@bp.app_template_filter()
def analytics_day(day: str) -> str:
    """A day of the per-day series ("2026-11-25") as the locale writes it, short."""
    return format_date(date.fromisoformat(day), "d MMM")


@bp.app_template_global()
def analytics_site_days(days: int = 14) -> dict:
    """The admin overview's per-day figures, for templates/admin/_overview_chart.html
    (a global, so the partial needs nothing from the page that includes it)."""
    return analytics.site_days(current_user, days)


def _days() -> int:
    days = request.args.get("days", type=int)
    return days if days in DAY_CHOICES else DAY_CHOICES[0]


@bp.route("/lives/<int:live_id>/analytics")
@login_required
def live(live_id: int):
    """One live's figures and charts (host and admins)."""
    live = lives.get_live(live_id)
    analytics.require_analytics(live, current_user)
    return render_template("analytics/live.html", live=live, figures=analytics.live_figures(live))


@bp.route("/settings/analytics")
@login_required
def mine():
    """The signed-in person's lives (on now and ended) with their main figures."""
    page = analytics.lives_of(current_user, page=request.args.get("page", 1, type=int))
    return render_template("analytics/mine.html", page=page, rows=analytics.summaries(page.items))


@bp.route("/admin/analytics")
@login_required
def admin():
    """The site per day over the last 14 or 30 days, as charts and a table (admins)."""
    days = _days()
    return render_template(
        "analytics/admin.html", days=days, choices=DAY_CHOICES, site=analytics.site_days(current_user, days)
    )


@bp.route("/admin/analytics.json")
@login_required
def admin_json():
    """The per-day series for the overview chart (admins); ``?days=14|30``."""
    require_admin(current_user)
    response = jsonify(analytics.site_days(current_user, _days()))
    response.headers["Cache-Control"] = "no-store"
    return response
