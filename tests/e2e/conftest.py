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
import shutil
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
# The harness's worker: prefork with two processes, without the broadcast bootsteps (kcs/celery.py turns them off in
# any case).
HARNESS_ARGS = [
    "-Q",
    ",".join(QUEUES),
    "--pool=prefork",
    "-c",
    "2",
    "--loglevel=info",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
]
# A worker started exactly as README's "Running at scale" says, with no flags that would hide a problem.
PRODUCTION_ARGS = ["-Q", ",".join(QUEUES), "--concurrency", "2", "--loglevel", "info"]


class Worker:
    """A real Celery worker subprocess (its own process group, so it can be killed whole)."""

    def __init__(self, env: dict[str, str], log_dir: Path, args: list[str] | None = None):
        self.env = env
        self.log_dir = log_dir
        self.args = HARNESS_ARGS if args is None else args
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(self) -> None:
        self.log_path = self.log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "kcs", "worker", *self.args, "-n", f"e2e-{uuid.uuid4().hex[:6]}@%h"],
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


def purge_broker(url: str | None = None) -> None:
    """Empty our queues (and Redis' unacked set) so a message left by an earlier run cannot leak in."""
    from kcs.celery import app

    with app.connection_for_write(url) as conn:
        for queue in QUEUES:
            channel = conn.channel()  # one per queue: AMQP closes a channel that purged a queue never declared
            try:
                channel.queue_purge(queue)
            except Exception:  # a queue that was never declared has nothing to purge
                pass
            finally:
                try:
                    channel.close()
                except Exception:  # already closed by the broker
                    pass
        if conn.transport_cls in ("redis", "rediss") or "redis" in type(conn.transport).__module__:
            conn.default_channel.client.delete("unacked", "unacked_index")


def worker_env(var_dir: Path, broker_url: str) -> dict[str, str]:
    """The environment of a worker on the test database and the given broker, with the product's own settings."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    database_url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        # The worker runs the product's own settings, as in production, on the test database and broker.
        "DJANGO_SETTINGS_MODULE": "kcs.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "KCS_VAR_DIR": str(var_dir),
        "SECRET_KEY": settings.SECRET_KEY,
        "KCS_ENCRYPTION_KEY": settings.KCS_ENCRYPTION_KEY,
        "KCS_ALLOW_PRIVATE_DESTINATIONS": "true",  # the receivers are on loopback
        "KCS_BASE_URL": "http://kcs.test",
        "LOG_LEVEL": "info",
        # A short delivery lease (renewed every second), so the tests of a killed or slow worker take seconds.
        "KCS_DELIVERY_LEASE": "3",
    }


def require_postgresql() -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(
            "the end-to-end tests share the test database with a worker process: run them with "
            "DATABASE_URL=postgres://…"
        )


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    require_postgresql()
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip(
            "the end-to-end tests share a broker with a worker process: run them with CELERY_BROKER_URL=redis://…"
        )
    env = worker_env(tmp_path_factory.mktemp("worker-var"), settings.CELERY_BROKER_URL)
    purge_broker()
    process = Worker(env, tmp_path_factory.mktemp("worker"))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def start_beat_worker(pipeline, tmp_path_factory):
    """``start_beat_worker(**env)``: one more worker on the test database and broker that also runs beat, as
    ``manage.py serve`` starts it (``--beat`` with a schedule file in its own var folder), with ``env`` added to its
    environment (e.g. a short schedule); stopped after the test."""
    started: list[Worker] = []

    def start(**extra_env: str) -> Worker:
        var_dir = tmp_path_factory.mktemp("beat-var")
        env = {**worker_env(var_dir, settings.CELERY_BROKER_URL), **extra_env}
        args = [*HARNESS_ARGS, "--beat", "--schedule", str(var_dir / "celerybeat-schedule")]
        process = Worker(env, tmp_path_factory.mktemp("beat"), args)
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


# --- other brokers --------------------------------------------------------------------------------------------------
def _reset_broker_pools(app) -> None:
    """Make the app take its connections from the pool of its (new) broker URL. The old pool is left open: kombu
    keeps one pool per broker in a registry of its own, and hands the same one back when the URL is restored."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def use_broker():
    """``use_broker(url)`` points this process's Celery app — what the API and the sweepers publish with — at
    another broker until the test ends."""
    from kcs import broker
    from kcs.celery import app

    saved = app.conf.broker_url, app.conf.broker_transport_options

    def switch(url: str) -> None:
        _reset_broker_pools(app)
        app.conf.broker_url = url
        app.conf.broker_transport_options = broker.transport_options(url)

    yield switch
    _reset_broker_pools(app)
    app.conf.broker_url, app.conf.broker_transport_options = saved


@pytest.fixture
def start_worker(django_db_setup, tmp_path_factory):
    """``start_worker(broker_url, production=False)``: a worker of this test's own on another broker (its queues
    emptied first), stopped after the test; ``production=True`` starts it with README's command line."""
    require_postgresql()
    started: list[Worker] = []

    def start(broker_url: str, production: bool = False) -> Worker:
        purge_broker(broker_url)
        args = PRODUCTION_ARGS if production else None
        process = Worker(
            worker_env(tmp_path_factory.mktemp("worker-var"), broker_url), tmp_path_factory.mktemp("w"), args
        )
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


class RedisServer:
    """A private redis-server on a free loopback port, keeping nothing on disk (so a restart loses every message)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout=10, interval=0.05, what="redis-server to start")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self, pause: float = 1.0) -> None:
        self.stop()
        time.sleep(pause)
        self.start()


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _amqp_reachable(url: str) -> str | None:
    """None when a connection to ``url`` works, else why not."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:  # refused, access refused to the vhost, timeouts: all mean "not usable here"
        return f"{exc.__class__.__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def rabbitmq_url():
    """A RabbitMQ vhost of this test database's own (``KCS_TEST_AMQP_URL`` overrides); created with rabbitmqctl when
    it is missing and rabbitmqctl is at hand. Skips, saying why, when RabbitMQ cannot be used."""
    vhost = settings.DATABASES["default"]["NAME"].removeprefix("test_")  # e.g. kcs_ci in CI
    url = os.environ.get("KCS_TEST_AMQP_URL") or f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    problem = _amqp_reachable(url)
    if problem and not os.environ.get("KCS_TEST_AMQP_URL") and shutil.which("rabbitmqctl"):
        for command in (["add_vhost", vhost], ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]):
            subprocess.run(["rabbitmqctl", *command], capture_output=True, timeout=60)
        problem = _amqp_reachable(url)
    if problem:
        pytest.skip(f"RabbitMQ is not reachable at {url.split('@')[-1]} ({problem}); .ci/run starts it")
    return url


@pytest.fixture
def pipeline(worker, receivers, settings):
    """A running worker, empty receivers, and policy and silence index revisions no earlier test can have used."""
    from kcs.models import ConfigRevision
    from kcs.revisions import OUTPUTS, SILENCE_INDEX
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
    ConfigRevision.objects.update_or_create(name=SILENCE_INDEX, defaults={"value": random.randint(10**6, 10**9)})
    ConfigRevision.objects.update_or_create(name=OUTPUTS, defaults={"value": random.randint(10**6, 10**9)})
    yield receivers
    receivers["http"].release()
    if worker.running and b"Traceback" in (worker.log_path.read_bytes() if worker.log_path else b""):
        print(worker.log()[-5000:])
