"""gunicorn settings of the web server: ``gunicorn kcs.wsgi -c python:kcs.gunicorn_conf`` (``manage.py serve``
passes it). It tells the metrics when a web worker process ends (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os


def child_exit(server, worker) -> None:
    """Runs in the gunicorn master, which never loads Django for serving: the settings are loaded here to find the
    metrics folder."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
    from kcs.metrics import process_exited  # here: only after the settings module is named (see above)

    process_exited(worker.pid)
