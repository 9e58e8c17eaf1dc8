"""A web process loads its views and tasks when it starts, not on its first request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_loading_the_wsgi_application_registers_every_task_and_view(tmp_path):
    code = (
        "import sys, kcs.wsgi; from kcs.celery import app; "
        "assert 'policies.evaluate_batch' in app.tasks and 'notifications.deliver' in app.tasks; "
        "assert 'events.api' in sys.modules and 'policies.views' in sys.modules; print('ok')"
    )
    env = {"PATH": "/usr/bin:/bin", "KCS_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "kcs.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
