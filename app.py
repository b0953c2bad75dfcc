"""Entry point. ``python app.py`` serves LiveLite; ``flask --app app ...`` runs commands."""

import sys

if __name__ == "__main__":
    # eventlet must patch the standard library before anything imports socket,
    # threading or subprocess, so this comes before every other import.
    import warnings

    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()

from livelite import create_app

app = create_app()

if __name__ == "__main__":
    from livelite.server import serve

    sys.exit(serve(app))
