"""End-to-end harness: a real Celery worker on the test database and broker, and real receivers on loopback.

The worker is a subprocess (``celery -A kcs worker --pool=prefork -c 2``) pointed at pytest-django's test
database, so the tests need PostgreSQL (an in-memory SQLite test database cannot be shared with another process).
Receivers: an aiosmtpd SMTP server, one HTTP server speaking the Telegram Bot API ``sendMessage``, a webhook
endpoint that verifies the HMAC signature and a Slack-style endpoint, and UDP and TCP syslog listeners that parse
the CEF lines. Receivers can be scripted to fail, refuse or hang, per path.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import HMAC_SECRET
from tests.helpers import free_port, wait_for

QUEUES = ("events", "notifications", "default")
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


# --- receivers ----------------------------------------------------------------------------------------------------
class HttpReceiver:
    """Telegram Bot API, HMAC webhook and Slack-style endpoints on one loopback HTTP server.

    ``script[path]`` is a list of answers for the next requests to ``path``: an HTTP status (with an optional
    Retry-After: ``(503, "1")``) or ``"hang"`` (hold the request until :meth:`release`). Then 200.
    """

    def __init__(self):
        self.requests: list[dict] = []
        self.script: dict[str, list] = {}
        self.lock = threading.Lock()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.handle(self, raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.script.clear()
        self.released.set()
        self.released = threading.Event()

    def release(self):
        self.released.set()

    def _next_answer(self, path):
        with self.lock:
            queue = self.script.get(path) or []
            return queue.pop(0) if queue else 200

    def handle(self, handler, raw: bytes):
        path = handler.path
        record = {"path": path, "headers": dict(handler.headers), "raw": raw, "answered": None, "at": time.time()}
        with self.lock:
            self.requests.append(record)
        answer = self._next_answer(path)
        if answer == "hang":
            self.released.wait(30)
            answer = 200
        status, retry_after = answer if isinstance(answer, tuple) else (answer, None)
        body, extra = self._protocol(path, handler.headers, raw, status, record)
        record["answered"] = status
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json" if body.startswith(b"{") else "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        if retry_after:
            handler.send_header("Retry-After", retry_after)
        for key, value in extra.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _protocol(self, path, headers, raw, status, record):
        if re.match(r"^/bot[^/]+/sendMessage$", path):  # Telegram Bot API
            payload = json.loads(raw)
            record["json"] = payload
            if str(payload.get("chat_id")) == "404":
                return json.dumps(
                    {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
                ).encode(), {}
            if status != 200:
                return json.dumps({"ok": False, "error_code": status, "description": "Server error"}).encode(), {}
            return json.dumps(
                {
                    "ok": True,
                    "result": {
                        "message_id": len(self.requests),
                        "chat": {"id": payload["chat_id"]},
                        "text": payload["text"],
                    },
                }
            ).encode(), {}
        if path.startswith("/hook/"):  # the webhook receiver verifies the signature
            timestamp = headers.get("X-KCS-Timestamp", "")
            expected = (
                "sha256=" + hmac.new(HMAC_SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
            )
            record["verified"] = hmac.compare_digest(expected, headers.get("X-KCS-Signature", ""))
            record["json"] = json.loads(raw)
            return (b"accepted" if status < 300 else b"failed"), {}
        if path.startswith("/slack/"):  # Slack answers a plain "ok" or an error code
            record["json"] = json.loads(raw)
            return (b"ok" if status < 300 else b"invalid_payload"), {}
        return b"not found", {}

    def received(self, prefix: str, accepted_only: bool = True) -> list[dict]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r["path"].startswith(prefix) and (not accepted_only or (r["answered"] or 0) // 100 == 2)
            ]

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes, policy

                receiver.messages.append((envelope, message_from_bytes(envelope.content, policy=policy.default)))
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def reset(self):
        self.messages.clear()

    def close(self):
        self.controller.stop()


class SyslogReceiver:
    """UDP and TCP syslog listeners on loopback, collecting lines."""

    def __init__(self):
        self.lines: list[tuple[str, str]] = []
        receiver = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                receiver.lines.append(("udp", self.request[0].decode()))

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self):
                for raw in self.rfile:
                    receiver.lines.append(("tcp", raw.decode().rstrip("\n")))

        self.udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Udp)
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tcp)
        self.tcp.daemon_threads = self.udp.daemon_threads = True
        for server in (self.udp, self.tcp):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def reset(self):
        self.lines.clear()

    def close(self):
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="session")
def receivers():
    http, smtp, syslog = HttpReceiver(), SmtpReceiver(), SyslogReceiver()
    yield {"http": http, "smtp": smtp, "syslog": syslog}
    for receiver in (http, smtp, syslog):
        receiver.close()


# --- the worker -----------------------------------------------------------------------------------------------------
class Worker:
    """A real Celery worker subprocess (its own process group, so it can be killed whole)."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(self) -> None:
        self.log_path = self.log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "kcs",
                "worker",
                "-Q",
                ",".join(QUEUES),
                "--pool=prefork",
                "-c",
                "2",
                "--loglevel=info",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"e2e-{uuid.uuid4().hex[:6]}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(
            lambda: b" ready." in self.log_path.read_bytes() or self.process.poll() is not None,
            timeout=60,
            interval=0.1,
            what="the worker to start",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: what a crash or an OOM kill does."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if not self.running:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


def purge_broker() -> None:
    """Empty our queues (and Redis' unacked set) so a message left by an earlier run cannot leak in."""
    from kcs.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            try:
                channel.queue_purge(queue)
            except Exception:  # a queue that was never declared has nothing to purge
                pass
        if conn.transport_cls in ("redis", "rediss") or "redis" in type(conn.transport).__module__:
            channel.client.delete("unacked", "unacked_index")


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(
            "the end-to-end tests share the test database with a worker process: run them with "
            "DATABASE_URL=postgres://…"
        )
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip(
            "the end-to-end tests share a broker with a worker process: run them with CELERY_BROKER_URL=redis://…"
        )
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    database_url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        # The worker runs the product's own settings, as in production, on the test database and broker.
        "DJANGO_SETTINGS_MODULE": "kcs.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "KCS_VAR_DIR": str(tmp_path_factory.mktemp("worker-var")),
        "SECRET_KEY": settings.SECRET_KEY,
        "KCS_ENCRYPTION_KEY": settings.KCS_ENCRYPTION_KEY,
        "KCS_ALLOW_PRIVATE_DESTINATIONS": "true",  # the receivers are on loopback
        "KCS_BASE_URL": "http://kcs.test",
        "LOG_LEVEL": "info",
    }
    purge_broker()
    process = Worker(env, tmp_path_factory.mktemp("worker"))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def pipeline(worker, receivers, settings):
    """A running worker, empty receivers, and a policy index revision no earlier test can have used."""
    from kcs.models import ConfigRevision
    from policies.index_cache import REVISION_NAME

    settings.KCS_ALLOW_PRIVATE_DESTINATIONS = True
    settings.KCS_BASE_URL = "http://kcs.test"
    if not worker.running:
        purge_broker()
        worker.start()
    for receiver in receivers.values():
        receiver.reset()
    # Flushing between tests resets the revision counter; a fresh random start keeps the worker's cached index
    # of the previous test from looking current.
    ConfigRevision.objects.update_or_create(name=REVISION_NAME, defaults={"value": random.randint(10**6, 10**9)})
    yield receivers
    receivers["http"].release()
    if worker.running and b"Traceback" in (worker.log_path.read_bytes() if worker.log_path else b""):
        print(worker.log()[-5000:])
