#!/usr/bin/env python3
"""Production smoke test: start the product the way the README says for production, on a fresh machine.

1. A fresh virtualenv in a temporary folder with ``requirements.txt`` only (``make install VENV=…``): the test
   requirements must not hide a missing runtime dependency.
2. For each broker URL given (default: Redis): a database of its own on PostgreSQL, then ``make run`` (migrate,
   collectstatic, admin, ``manage.py serve``: gunicorn plus a Celery worker with beat) on a free port.
3. ``/readyz`` must answer 200; an API token, a webhook integration pointing at a receiver on loopback and a policy
   are created through the API, one critical event is posted, and the receiver must get the message.
4. Ctrl-C (SIGINT to the process group, as a terminal sends it) must stop everything; the database is dropped and
   the temporary folder removed.

Every wait is bounded; on failure the tail of the product's log is printed and the exit status is 1.
Standard library only: run it with any Python 3.11+ (``python3 .ci/production_smoke.py``).

Environment: ``KCS_SMOKE_BROKERS`` (space-separated broker URLs, default ``redis://127.0.0.1:6379/11``),
``KCS_SMOKE_POSTGRES`` (an administrative PostgreSQL URL, default ``postgres://postgres@127.0.0.1:5432/postgres``),
``KCS_SMOKE_DATABASE`` (the database to create and drop, default ``kcs_smoke``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 900  # seconds for the virtualenv and pip install from PyPI
READY_TIMEOUT = 180  # seconds from `make run` to /readyz answering 200 (migrations included)
DELIVERY_TIMEOUT = 60  # seconds from the event POST to the webhook request
STOP_TIMEOUT = 45  # seconds for Ctrl-C to stop web server and worker
QUEUES = "events,notifications,default"


class SmokeFailure(Exception):
    pass


def say(message: str) -> None:
    print(f"[smoke] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], *, env: dict | None = None, timeout: float, what: str) -> str:
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise SmokeFailure(f"{what}: no answer within {timeout:.0f} s") from None
    if done.returncode != 0:
        raise SmokeFailure(f"{what} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


class Receiver:
    """A webhook receiver on loopback that records every POST."""

    def __init__(self):
        self.requests: list[dict] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                receiver.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Api:
    def __init__(self, base: str, key: str):
        self.base = base
        self.key = key

    def call(self, method: str, path: str, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Token {self.key}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise SmokeFailure(f"{method} {path} answered {exc.code}: {exc.read()[:2000]!r}") from None


def ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=5) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def recreate_database(python: str, admin_url: str, name: str, drop_only: bool = False) -> None:
    """Drop (and create) ``name`` with the fresh virtualenv's psycopg."""
    statements = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'] + (
        [] if drop_only else [f'CREATE DATABASE "{name}"']
    )
    script = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1], autocommit=True, connect_timeout=10) as c:\n"
        "    for s in sys.argv[2:]: c.execute(s)\n"
    )
    run([python, "-c", script, admin_url, *statements], timeout=60, what=f"(re)creating database {name}")


def product_env(venv: Path, var_dir: Path, database: str, broker: str, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KCS_", "CELERY_", "DJANGO_", "VIRTUAL_ENV", "PYTHON"))
        and key not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "PORT", "HOST"}
    }
    env.update(
        DATABASE_URL=database,
        CELERY_BROKER_URL=broker,
        KCS_VAR_DIR=str(var_dir),
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        WORKER_CONCURRENCY="1",
        KCS_ALLOW_PRIVATE_DESTINATIONS="1",  # the receiver is on loopback
        KCS_ADMIN_PASSWORD=secrets.token_urlsafe(12),
        PYTHONUNBUFFERED="1",
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen) -> bool:
    """Ctrl-C the process group, as a terminal does; True when every process of it ended within STOP_TIMEOUT
    (else they are killed)."""
    deadline = time.monotonic() + STOP_TIMEOUT
    if group_alive(process.pid):
        os.killpg(process.pid, signal.SIGINT)
    while time.monotonic() < deadline:
        process.poll()
        if not group_alive(process.pid):
            return True
        time.sleep(0.2)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)
    return False


def smoke(venv: Path, workdir: Path, broker: str, admin_url: str, db_name: str, index: int) -> None:
    python = str(venv / "bin" / "python")
    say(f"--- broker {broker.split('@')[-1]} ---")
    recreate_database(python, admin_url, db_name)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = product_env(venv, workdir / f"var-{index}", database_url(admin_url, db_name), broker, port)
    # A broker queue left over from an earlier run would hand the worker ids of another database.
    run(
        [python, "-m", "celery", "-A", "kcs", "purge", "-f", "-Q", QUEUES],
        env=env,
        timeout=60,
        what="purging the broker queues",
    )
    log_path = workdir / f"make-run-{index}.log"
    say(f"make run on port {port} (log: {log_path})")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"VENV={venv}", f"PYTHON={sys.executable}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() signals make, serve, gunicorn and celery
        )
    receiver = Receiver()
    try:
        started = time.monotonic()
        while not ready(base):
            if process.poll() is not None:
                raise SmokeFailure(f"make run exited with {process.returncode} before /readyz answered 200")
            if time.monotonic() - started > READY_TIMEOUT:
                raise SmokeFailure(f"/readyz did not answer 200 within {READY_TIMEOUT} s")
            time.sleep(0.5)
        say(f"/readyz answered 200 after {time.monotonic() - started:.1f} s")

        key = run(
            [python, "manage.py", "create_api_token", "admin", "--name", "smoke"],
            env=env,
            timeout=60,
            what="create_api_token",
        ).strip()
        api = Api(base, key)
        scopes = api.call("GET", "/api/v1/scopes/")
        scopes = scopes["results"] if isinstance(scopes, dict) else scopes
        global_scope = next(scope["id"] for scope in scopes if scope["is_global"])
        integration = api.call(
            "POST",
            "/api/v1/integrations/",
            {"name": "Smoke hook", "kind": "webhook", "config": {"url": receiver.url, "auth": "none"}},
        )
        api.call(
            "POST",
            "/api/v1/response-policies/",
            {
                "name": "Smoke criticals",
                "scopes": [global_scope],
                "trigger": "critical_vulnerabilities",
                "notification_methods": [integration["id"]],
            },
        )
        posted = time.monotonic()
        answer = api.call(
            "POST",
            "/api/v1/events/",
            {
                "type": "vulnerability",
                "severity": "critical",
                "title": "openssl: smoke test finding",
                "registry": "registry.example.com",
                "repository": "smoke/api",
                "tag": "1.0.0",
                "finding_id": "CVE-2024-0001",
                "package": "openssl",
            },
        )
        say(f"posted event {answer['ids'][0]}; waiting for the webhook")
        if not receiver.arrived.wait(DELIVERY_TIMEOUT):
            raise SmokeFailure(f"no webhook request within {DELIVERY_TIMEOUT} s of the event POST")
        request = receiver.requests[0]
        if not request["headers"].get("X-KCS-Delivery"):
            raise SmokeFailure(f"the webhook request carries no X-KCS-Delivery header: {request['headers']}")
        payload = json.loads(request["body"])
        say(f"webhook received after {time.monotonic() - posted:.2f} s: {payload.get('summary', '')[:100]!r}")

        stopping = time.monotonic()
        if not stop(process):
            raise SmokeFailure(f"Ctrl-C did not stop every process of make run within {STOP_TIMEOUT} s")
        say(f"Ctrl-C stopped the web server and the worker in {time.monotonic() - stopping:.1f} s")
    except BaseException:
        stop(process)
        sys.stdout.write(f"[smoke] last lines of {log_path}:\n")
        sys.stdout.write("\n".join(log_path.read_text(errors="replace").splitlines()[-80:]) + "\n")
        raise
    finally:
        receiver.close()
        recreate_database(python, admin_url, db_name, drop_only=True)


def main() -> int:
    brokers = os.environ.get("KCS_SMOKE_BROKERS", "redis://127.0.0.1:6379/11").split()
    admin_url = os.environ.get("KCS_SMOKE_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
    db_name = os.environ.get("KCS_SMOKE_DATABASE", "kcs_smoke")
    workdir = Path(tempfile.mkdtemp(prefix="kcs-smoke-"))
    venv = workdir / "venv"
    try:
        started = time.monotonic()
        say(f"fresh virtualenv from requirements.txt only: {venv}")
        run(
            ["make", "--no-print-directory", "install", f"VENV={venv}", f"PYTHON={sys.executable}"],
            timeout=INSTALL_TIMEOUT,
            what="make install",
        )
        say(f"installed in {time.monotonic() - started:.0f} s")
        # What the production path imports: both broker transports, the web server and the worker.
        run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import kombu.transport.redis, kombu.transport.pyamqp, gunicorn.app.wsgiapp, celery.bin.celery, psycopg",
            ],
            timeout=60,
            what="importing the production modules",
        )
        for index, broker in enumerate(brokers):
            smoke(venv, workdir, broker, admin_url, db_name, index)
    except SmokeFailure as exc:
        say(f"FAILED: {exc}")
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"production smoke test passed ({len(brokers)} broker(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
