"""Admin: webhooks (services.webhooks). The list with the form to add one, each
webhook's secret, switches and test button, an edit page, and each webhook's delivery
log with Redeliver. The admin blueprint checks the admin role before every view
(routes._require_admin); the service checks it again."""

from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from livelite.blueprints.admin import bp
from livelite.extensions import db
from livelite.forms import Form
from livelite.services import webhooks
from livelite.services.errors import ValidationFailed

PAGE_SIZE = 25


def _form_values() -> dict:
    return {
        "url": request.form.get("url", ""),
        "description": request.form.get("description", ""),
        "events": request.form.getlist("events"),
        "active": request.form.get("active") == "1",
    }


def _context(**extra) -> dict:
    return {
        "events": [(name, str(label)) for name, label in webhooks.EVENTS.items()],
        "event_label": webhooks.event_label,
        "url_max": webhooks.URL_MAX,
        "description_max": webhooks.DESCRIPTION_MAX,
        "form": Form(),
        **extra,
    }


def _list_page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    hooks = webhooks.list_webhooks(current_user)
    return render_template(
        "admin/webhooks.html",
        **_context(
            webhooks=hooks,
            last=webhooks.last_deliveries([h.id for h in hooks]),
            errors=errors or {},
            values=values or {"url": "", "description": "", "events": list(webhooks.EVENTS), "active": True},
        ),
    ), status


def _pretty(payload: str) -> str:
    """The stored body indented for reading (what is sent stays compact)."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def _expired(target: str):
    flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
    return redirect(target)


def _back(webhook_id: int | None = None):
    """To the list (at this webhook), or to the page the form was on."""
    if request.form.get("next") == "deliveries" and webhook_id is not None:
        return redirect(url_for("admin.webhook_deliveries", webhook_id=webhook_id))
    return redirect(url_for("admin.webhooks") + (f"#webhook-{webhook_id}" if webhook_id else ""))


@bp.route("/webhooks", endpoint="webhooks")
def webhooks_page():
    """Every webhook, newest first, and the form to add one."""
    return _list_page()


@bp.route("/webhooks", methods=["POST"])
def create_webhook():
    if not Form().validate_on_submit():
        return _expired(url_for("admin.webhooks"))
    values = _form_values()
    try:
        webhook = webhooks.create_webhook(current_user, **values)
    except ValidationFailed as exc:
        return _list_page(errors=exc.errors, values=values, status=422)
    flash(_("The webhook is added. Give its secret to the receiver so it can check signatures."), "success")
    return redirect(url_for("admin.webhooks") + f"#webhook-{webhook.id}")


@bp.route("/webhooks/<int:webhook_id>/edit", methods=["GET", "POST"])
def edit_webhook(webhook_id: int):
    """Change the URL, the events or the description."""
    webhook = webhooks.get_webhook(current_user, webhook_id)
    errors: dict = {}
    values = {
        "url": webhook.url,
        "description": webhook.description,
        "events": webhook.event_list,
        "active": webhook.active,
    }
    if request.method == "POST":
        if not Form().validate_on_submit():
            return _expired(url_for("admin.edit_webhook", webhook_id=webhook.id))
        values = _form_values()
        try:
            webhooks.update_webhook(current_user, webhook.id, **values)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(_("The webhook is saved."), "success")
            return redirect(url_for("admin.webhooks") + f"#webhook-{webhook.id}")
    return render_template(
        "admin/webhooks_edit.html", **_context(webhook=webhook, errors=errors, values=values)
    ), (422 if errors else 200)


@bp.route("/webhooks/<int:webhook_id>/active", methods=["POST"])
def set_webhook_active(webhook_id: int):
    """Turn a webhook on or off; while off, nothing is queued or sent to it."""
    if not Form().validate_on_submit():
        return _expired(url_for("admin.webhooks"))
    active = request.form.get("active") == "1"
    webhooks.update_webhook(current_user, webhook_id, active=active)
    if active:
        flash(_("The webhook is on: events are sent to it again."), "success")
    else:
        flash(_("The webhook is off: no event is sent to it until you turn it on."), "info")
    return _back(webhook_id)


@bp.route("/webhooks/<int:webhook_id>/secret", methods=["POST"])
def rotate_webhook_secret(webhook_id: int):
    """A new signing secret; the old one stops being used at once."""
    if not Form().validate_on_submit():
        return _expired(url_for("admin.webhooks"))
    webhooks.rotate_secret(current_user, webhook_id)
    flash(_("The webhook has a new secret: give it to the receiver."), "success")
    return _back(webhook_id)


@bp.route("/webhooks/<int:webhook_id>/delete", methods=["POST"])
def delete_webhook(webhook_id: int):
    if not Form().validate_on_submit():
        return _expired(url_for("admin.webhooks"))
    webhooks.delete_webhook(current_user, webhook_id)
    flash(_("The webhook and its delivery log are deleted."), "info")
    return redirect(url_for("admin.webhooks"))


@bp.route("/webhooks/<int:webhook_id>/test", methods=["POST"])
def test_webhook(webhook_id: int):
    """Queue a ping to this webhook only; the log shows how it went."""
    if not Form().validate_on_submit():
        return _expired(url_for("admin.webhooks"))
    webhooks.send_test(current_user, webhook_id)
    flash(_("A test event is on its way. Its delivery shows below in a moment."), "success")
    return redirect(url_for("admin.webhook_deliveries", webhook_id=webhook_id))


@bp.route("/webhooks/<int:webhook_id>", endpoint="webhook_deliveries")
def webhook_deliveries(webhook_id: int):
    """The webhook's deliveries, newest first: status, attempts, answers, payloads."""
    webhook = webhooks.get_webhook(current_user, webhook_id)
    page = db.paginate(webhooks.deliveries_query(current_user, webhook), per_page=PAGE_SIZE, error_out=False)
    return render_template(
        "admin/webhook_deliveries.html",
        **_context(webhook=webhook, page=page, max_attempts=webhooks.MAX_ATTEMPTS, pretty=_pretty),
    )


@bp.route("/webhooks/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
def redeliver_webhook(delivery_id: int):
    """Send a delivery's body again, as a new delivery in the log."""
    if not Form().validate_on_submit():
        return _expired(url_for("admin.webhooks"))
    delivery = webhooks.redeliver(current_user, delivery_id)
    flash(_("The event is sent again as delivery #%(id)s.", id=delivery.id), "success")
    return redirect(url_for("admin.webhook_deliveries", webhook_id=delivery.webhook_id))
