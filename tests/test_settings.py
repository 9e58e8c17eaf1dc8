"""Settings: the test settings write nothing to disk, while the product's settings keep writing their defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

# Load the apps, the URLs and the Celery app, and run the system checks: whatever a test process does at start.
START = (
    "import django; django.setup();"
    "from django.core.management import call_command; call_command('check');"
    "from kcs.celery import app; print(app.conf.broker_url)"
)


def start_python(settings_module: str, var_dir: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Start Django in a fresh interpreter with ``var_dir`` as KCS_VAR_DIR and nothing else configured."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KCS_", "DJANGO_", "CELERY_", "DATABASE_")) and key not in ("SECRET_KEY", "PYTHONPATH")
    }
    result = subprocess.run(
        [sys.executable, "-B", "-c", START],  # -B: no __pycache__ either
        cwd=cwd,  # folders the code would create relative to the working directory land here
        env={
            **inherited,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "KCS_VAR_DIR": str(var_dir),
            "PYTHONPATH": str(settings.BASE_DIR),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def written(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture
def empty_dirs(tmp_path) -> tuple[Path, Path]:
    var_dir, cwd = tmp_path / "var", tmp_path / "cwd"
    var_dir.mkdir()
    cwd.mkdir()
    return var_dir, cwd


@pytest.mark.parametrize(
    "configured",
    [
        pytest.param({}, id="embedded-defaults"),
        pytest.param(
            {"DATABASE_URL": "postgres://kcs@127.0.0.1:5432/kcs", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"},
            id="postgres-and-redis",
        ),
    ],
)
def test_starting_with_the_test_settings_writes_no_files(empty_dirs, configured):
    var_dir, cwd = empty_dirs
    result = start_python("kcs.settings_test", var_dir, cwd, **configured)
    assert written(var_dir) == [] and written(cwd) == []
    assert result.stdout.splitlines()[-1] == configured.get("CELERY_BROKER_URL", "memory://")


def test_the_product_settings_still_generate_keys_and_folders_on_a_first_start(empty_dirs):
    var_dir, cwd = empty_dirs
    start_python("kcs.settings", var_dir, cwd)
    files = written(var_dir)
    assert {"secret_key", "encryption_key", "staticfiles", "broker/queue"} <= set(files), files
    assert written(cwd) == []
    # A second start reads the same keys back instead of generating new ones.
    keys = {name: (var_dir / name).read_text() for name in ("secret_key", "encryption_key")}
    start_python("kcs.settings", var_dir, cwd)
    assert {name: (var_dir / name).read_text() for name in keys} == keys
