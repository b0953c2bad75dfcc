"""The publisher page: pick sources, preview, go live, end."""

from flask import current_app, render_template
from flask_login import current_user, login_required

from livelite.blueprints.studio import bp
from livelite.models import Visibility
from livelite.services import lives, policy


@bp.route("/studio")
@login_required
def studio():
    """Go live from the browser. Shows why not, if the person may not go live."""
    decision = policy.may_go_live(current_user)
    active = lives.active_live_of(current_user)
    return render_template(
        "studio/studio.html",
        decision=decision,
        active=active,
        visibilities=list(Visibility),
        max_kbps=current_app.config["MAX_INGEST_KBPS"],
    )
