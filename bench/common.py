"""Helpers shared by the bench scripts: a PostgreSQL database of their own, gunicorn, a token, timing stats."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def bench_env(database: str = "kcs_bench", broker_db: int = 9) -> dict[str, str]:
    """Environment for the app under test: PostgreSQL and Redis (as in production), eager-free, quiet logs."""
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{database}")
    env.setdefault("CELERY_BROKER_URL", f"redis://127.0.0.1:6379/{broker_db}")
    env.setdefault("KCS_VAR_DIR", f"/tmp/{database}-var")
    env.setdefault("LOG_LEVEL", "warning")
    # One token sends far more than the product's default rate; a high one keeps the throttle's cost in the figures.
    env.setdefault("KCS_API_TOKEN_RATE", "1000000/minute")
    return env


def recreate_database(env: dict[str, str]) -> None:
    """Drop and create the bench database, then migrate it."""
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, stdout=subprocess.DEVNULL)
    manage(env, "migrate", "--noinput", "-v", "0")


def fresh_django(env: dict[str, str]) -> None:
    """A new bench database and an empty broker queue for ``env``, then Django set up in this process on them."""
    recreate_database(env)
    subprocess.run(
        ["redis-cli", "-n", env["CELERY_BROKER_URL"].rsplit("/", 1)[1], "flushdb"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
    import django

    django.setup()


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return result.stdout.strip()


def make_token(env: dict[str, str], username: str = "bench") -> str:
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model as g; U=g(); "
        f"U.objects.filter(username='{username}').exists() or U.objects.create_superuser('{username}', '', 'x')",
    )
    return manage(env, "create_api_token", username, "--name", "bench")


@contextmanager
def gunicorn(env: dict[str, str], port: int = 8765, workers: int = 2, threads: int = 4):
    """Serve the app with gunicorn (production WSGI server) until the block ends."""
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "kcs.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**env, "ALLOWED_HOSTS": "127.0.0.1,localhost"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still importing
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def celery_worker(env: dict[str, str], concurrency: int = 2, pool: str = "prefork"):
    """One Celery worker on every queue (as in production) until the block ends; its process group is killed if it
    has not stopped 30 s after SIGTERM. It runs in a session of its own, so Ctrl-C reaches only the bench, which
    then stops it."""
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "kcs",
            "worker",
            "-Q",
            "events,notifications,default",
            f"--pool={pool}",
            "-c",
            str(concurrency),
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,  # the start-up banner; warnings and errors go to stderr
        start_new_session=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(values_ms: list[float]) -> str:
    return (
        f"p50 {percentile(values_ms, 50):.1f} ms, p90 {percentile(values_ms, 90):.1f} ms, "
        f"p99 {percentile(values_ms, 99):.1f} ms, mean {statistics.fmean(values_ms):.1f} ms"
    )


class SqlMeter:
    """Counts a request's queries and the time it waits for the database (a ``connection.execute_wrapper``)."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


def critical_finding(key: str, registry: str, repository: str, tag: str = "1.0") -> dict:
    """One critical vulnerability as a scanner posts it to ``/api/v1/events/``, its ``key`` as uid and finding."""
    return {
        "type": "vulnerability",
        "severity": "critical",
        "title": f"libfoo: heap overflow ({key})",
        "source": "trivy",
        "registry": registry,
        "repository": repository,
        "tag": tag,
        "finding_id": key,
        "package": "libfoo",
        "installed_version": "1.0.0",
        "fixed_version": "1.0.1",
        "cvss": 9.8,
        "uid": key,
        "cluster": "prod-1",
        "namespace": "shop",
    }
