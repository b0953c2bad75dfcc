"""One package per feature; ``register_all`` attaches them to the app."""

from flask import Flask


def register_all(app: Flask) -> None:
    from livelite.blueprints.access import bp as access_bp
    from livelite.blueprints.admin import bp as admin_bp
    from livelite.blueprints.analytics import bp as analytics_bp
    from livelite.blueprints.api import register as register_api
    from livelite.blueprints.auth import bp as auth_bp
    from livelite.blueprints.classes import bp as classes_bp
    from livelite.blueprints.earnings import bp as earnings_bp
    from livelite.blueprints.events import bp as events_bp
    from livelite.blueprints.lives import bp as lives_bp
    from livelite.blueprints.main import bp as main_bp
    from livelite.blueprints.media_files import bp as media_bp
    from livelite.blueprints.metrics import bp as metrics_bp
    from livelite.blueprints.notifications import bp as notifications_bp
    from livelite.blueprints.profiles import bp as profiles_bp
    from livelite.blueprints.push import bp as push_bp
    from livelite.blueprints.replays import bp as replays_bp
    from livelite.blueprints.settings import bp as settings_bp
    from livelite.blueprints.studio import bp as studio_bp
    from livelite.blueprints.videos import bp as videos_bp
    from livelite.blueprints.wallet import bp as wallet_bp

    for bp in (
        main_bp,
        auth_bp,
        profiles_bp,
        settings_bp,
        media_bp,
        admin_bp,
        lives_bp,
        studio_bp,
        events_bp,
        notifications_bp,
        push_bp,
        access_bp,
        videos_bp,
        earnings_bp,
        wallet_bp,
        replays_bp,
        metrics_bp,
        analytics_bp,
        classes_bp,
    ):
        app.register_blueprint(bp)
    register_api(app)
