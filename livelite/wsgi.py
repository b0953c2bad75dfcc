"""The WSGI entry point for gunicorn: ``gunicorn -c deploy/gunicorn.conf.py livelite.wsgi:app``.

Import it only where eventlet has already patched the standard library: gunicorn's
eventlet worker does that before it loads this module, as ``app.py`` does before
``python app.py`` imports the app. What the process runs beside the requests (ingest,
jobs, the cluster heartbeat) is started by the configuration's ``post_worker_init``
hook through ``livelite.server.start_services``, not here: importing the app does no
network or disk work beyond ``create_app``'s (docs/deploy.md).
"""

from livelite import create_app

app = create_app()
