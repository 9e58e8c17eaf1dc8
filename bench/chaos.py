"""Delivery under failures: worker SIGKILLs, a broker restart that loses its queues, a webhook that answers 503.

KCS runs as ``manage.py serve`` (gunicorn + one Celery worker with beat, restarted with backoff when it dies) on
PostgreSQL (database ``kcs_chaos_bench``) and a Redis server of the bench's own on a spare loopback port (no
persistence, so a restart loses every queue). One webhook policy (critical vulnerabilities, Global scope) sends to a
loopback receiver that records every request: its ``X-KCS-Delivery`` key, the status it answered, and the batches
the body carries. 400 batches of 25 events (one critical each, a distinct image per batch) are posted at --rate
batches/s, so each batch makes one notification.

Scenarios:

- ``chaos`` (default): during posting, SIGKILL of the whole worker (its main process, pool processes and beat, as
  an OOM or container kill would) at 25 % and 60 % of the batches, a kill + restart of Redis at 40 %, and the
  receiver answering 503 for 30 s from 80 %. Target: 0 missing, 0 duplicates, everything delivered within 60 s of
  the receiver coming back.
- ``outage``: the receiver answers 503 from the first POST for --outage-seconds (default 300); prints how many
  attempts it saw meanwhile (retries back off 20 s, 40 s, 80 s …) and the time to deliver everything after it.

"delivered" counts distinct keys acknowledged with a 2xx, "duplicates" a key acknowledged 2xx more than once,
"missing" batches posted (201) whose notification was never acknowledged. On anything missing, the notification rows
not acknowledged are listed. Exit status 1 when a target is missed. All traffic stays on 127.0.0.1.

    .venv/bin/python bench/chaos.py                       (needs PostgreSQL on 127.0.0.1 and redis-server)
    .venv/bin/python bench/chaos.py --scenario outage [--outage-seconds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, bench_env, make_token, recreate_database  # noqa: E402

DATABASE = "kcs_chaos_bench"
BATCHES = 400
PER_BATCH = 25
START_TIMEOUT = 90  # seconds for serve (web + worker) to come up
POST_TIMEOUT = 15
DRAIN_TARGET = 60.0  # seconds from the receiver coming back to the last delivery
FAIL_SECONDS = 30.0  # the chaos scenario's 503 window
SETTLE = 10.0  # seconds to keep listening after everything arrived, for late duplicates
SETTINGS = {
    "KCS_SWEEP_INTERVAL": "5",
    "KCS_DELIVERY_SWEEP_INTERVAL": "5",
    "KCS_DELIVERY_LEASE": "15",
    "CELERY_VISIBILITY_TIMEOUT": "600",
    "WORKER_CONCURRENCY": "2",
    "WEB_CONCURRENCY": "2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str, t0: float | None = None) -> None:
    stamp = f"[{time.monotonic() - t0:7.1f} s] " if t0 is not None else ""
    print(f"{stamp}{message}", flush=True)


class Receiver:
    """Webhook receiver on loopback: answers 503 while failing, else 200; records every request."""

    def __init__(self):
        self.requests: list[tuple[float, str, int, tuple[int, ...]]] = []  # (monotonic, key, status, batches)
        self.fail_until = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                key = self.headers.get("X-KCS-Delivery", "")
                try:  # the default body lists the events, worst first: the critical one names its batch
                    ids = [event["finding_id"] for event in json.loads(raw)["events"]]
                    batches = tuple(sorted({int(i.split("-")[2]) for i in ids if i.startswith("chaos-")}))
                except (ValueError, KeyError, TypeError, IndexError):
                    batches = ()
                status = 503 if now < receiver.fail_until else (200 if key else 400)
                with receiver.lock:
                    receiver.requests.append((now, key, status, batches))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail_for(self, seconds: float) -> float:
        """Answer 503 for ``seconds`` from now; returns when it comes back (monotonic)."""
        self.fail_until = time.monotonic() + seconds
        return self.fail_until

    def acked(self) -> dict[str, list[tuple[float, tuple[int, ...]]]]:
        """Key -> its 2xx answers (time, batches)."""
        result: dict[str, list] = {}
        with self.lock:
            for t, key, status, batches in self.requests:
                if 200 <= status < 300:
                    result.setdefault(key, []).append((t, batches))
        return result

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Redis:
    """A redis-server of the bench's own: no persistence, so a restart loses every queue."""

    def __init__(self, port: int, workdir: Path):
        self.port, self.workdir, self.process = port, workdir, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def restart(self, down: float = 2.0) -> None:
        self.stop(kill=True)
        time.sleep(down)
        self.start()


def children(pid: int) -> list[int]:
    """``pid``'s descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                raw = Path(f"/proc/{name}/stat").read_text()
                parents[int(name)] = int(raw[raw.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_worker(serve: subprocess.Popen) -> str:
    """SIGKILL serve's Celery worker and all its processes (pool, beat) at once; returns what was killed."""
    mains = [p for p in children(serve.pid) if _ppid(p) == serve.pid and " celery " in f" {cmdline(p)} "]
    if not mains:
        return "no worker running (being restarted?)"
    victims = [mains[0], *children(mains[0])]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return f"SIGKILLed worker pid {mains[0]} and {len(victims) - 1} child processes"


def _ppid(pid: int) -> int:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        return int(raw[raw.rindex(")") + 2 :].split()[1])
    except (OSError, ValueError):
        return 0


def batch_body(run: str, b: int) -> list[dict]:
    events = []
    for j in range(PER_BATCH):
        events.append(
            {
                "type": "vulnerability",
                "severity": "critical" if j == 0 else ("high", "medium", "low")[j % 3],
                "title": f"libfoo: heap overflow ({b}/{j})",
                "source": "trivy",
                "registry": "registry.example.com",
                "repository": f"chaos/app-{run}-{b}",
                "tag": "1.0",
                "finding_id": f"chaos-{run}-{b}-{j}",
                "package": f"libfoo{j}",
                "installed_version": "1.0.0",
                "fixed_version": "1.0.1",
                "cvss": 9.8 if j == 0 else 5.0,
            }
        )
    return events


def setup(env: dict[str, str], hook_url: str) -> str:
    recreate_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
    import django

    django.setup()
    from django.db import connections

    from notifications.models import NotificationIntegration
    from policies.models import NotificationMethod, ResponsePolicy, Scope

    hook = NotificationIntegration.objects.create(
        name="chaos bench hook", kind="webhook", config={"url": hook_url, "auth": "none"}
    )
    policy = ResponsePolicy.objects.create(name="chaos bench", trigger="critical_vulnerabilities", repeat_interval=0)
    policy.scopes.set([Scope.objects.get(is_global=True)])
    NotificationMethod.objects.create(policy=policy, integration=hook)
    connections.close_all()
    return make_token(env)


def wait_ready(base: str, serve: subprocess.Popen) -> None:
    from kcs.celery import app

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if serve.poll() is not None:
            raise RuntimeError("manage.py serve exited")
        try:
            if requests.get(f"{base}/readyz", timeout=2).ok and app.control.ping(timeout=1.0):
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("KCS did not come up (readyz + worker ping)")
        time.sleep(0.2)


def investigate(acked: set[str]) -> None:
    from notifications.models import Notification

    rows = Notification.objects.order_by("id")
    print("  notification rows by status:", dict(Counter(rows.values_list("status", flat=True))))
    shown = 0
    for n in rows.exclude(idempotency_key__in=acked):
        if shown == 15:
            print("  …")
            break
        shown += 1
        print(
            f"  not acknowledged: id {n.id} batch {n.batch_id} status {n.status} attempts {n.attempts} "
            f"next_attempt_at {n.next_attempt_at:%H:%M:%S} claimed_until {n.claimed_until} "
            f"last_error {n.last_error[:120]!r}"
        )


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="kcs-chaos-"))
    redis = Redis(args.redis_port, workdir)
    receiver = Receiver()
    web_port = free_port()
    env = bench_env(DATABASE)
    env.update(SETTINGS)
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{args.redis_port}/0",
        KCS_VAR_DIR=str(workdir / "var"),
        KCS_ALLOW_PRIVATE_DESTINATIONS="1",
        HOST="127.0.0.1",
        PORT=str(web_port),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="info",
    )
    env.pop("KCS_METRICS_TOKEN", None)
    serve = None
    keep = args.keep_logs
    serve_log = workdir / "serve.log"
    try:
        redis.start()
        token = setup(env, receiver.url)
        print(
            f"scenario {args.scenario}: {BATCHES} batches x {PER_BATCH} events at {args.rate:g} batches/s; "
            f"settings: "
            + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
            + f"; broker redis://127.0.0.1:{args.redis_port}/0 (own redis-server, no persistence); logs {workdir}",
            flush=True,
        )
        with serve_log.open("wb") as out:
            serve = subprocess.Popen(
                [PYTHON, "manage.py", "serve"], cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
            )
        base = f"http://127.0.0.1:{web_port}"
        wait_ready(base, serve)

        run_id = uuid.uuid4().hex[:8]
        session = requests.Session()
        headers = {"Authorization": f"Token {token}"}
        posted: set[int] = set()
        errors: list[str] = []
        chaos = {}
        if args.scenario == "chaos":
            chaos = {
                BATCHES * 25 // 100: "kill",
                BATCHES * 40 // 100: "redis",
                BATCHES * 60 // 100: "kill",
                BATCHES * 80 // 100: "fail",
            }
        t0 = time.monotonic()
        back_at = None
        fail_started = None
        if args.scenario == "outage":
            fail_started = time.monotonic()
            back_at = receiver.fail_for(args.outage_seconds)
            log(f"receiver answers 503 for {args.outage_seconds:g} s", t0)
        helper = None
        for b in range(BATCHES):
            due = t0 + b / args.rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            action = chaos.get(b)
            if action == "kill":
                log(f"batch {b}: {kill_worker(serve)}", t0)
            elif action == "redis":
                log(f"batch {b}: killing redis-server (its queues are lost), restarting it in 2 s", t0)
                helper = threading.Thread(target=redis.restart, daemon=True)
                helper.start()
            elif action == "fail":
                fail_started = time.monotonic()
                back_at = receiver.fail_for(FAIL_SECONDS)
                log(f"batch {b}: receiver answers 503 for {FAIL_SECONDS:g} s", t0)
            try:
                answer = session.post(
                    f"{base}/api/v1/events/", json=batch_body(run_id, b), headers=headers, timeout=POST_TIMEOUT
                )
                if answer.status_code == 201:
                    posted.add(b)
                else:
                    errors.append(f"batch {b}: {answer.status_code} {answer.text[:200]}")
            except requests.RequestException as exc:
                errors.append(f"batch {b}: {type(exc).__name__}: {exc}")
        if helper is not None:
            helper.join(timeout=30)
        log(f"posting done: {len(posted)} of {BATCHES} batches answered 201", t0)

        # Wait for every posted batch, bounded; then listen a little longer for late duplicates.
        assert back_at is not None
        wait = args.wait if args.wait is not None else 180.0
        if args.wait is None and args.scenario == "outage":
            wait = max(wait, 1.4 * args.outage_seconds)
        deadline = max(back_at, time.monotonic()) + wait
        last_progress = 0.0
        done_at = None
        while time.monotonic() < deadline:
            delivered = {b for answers in receiver.acked().values() for _, batches in answers for b in batches}
            if posted <= delivered and time.monotonic() > back_at:
                done_at = done_at or time.monotonic()
                if time.monotonic() - done_at >= SETTLE:
                    break
            if time.monotonic() - last_progress >= 15:
                last_progress = time.monotonic()
                log(f"waiting: {len(posted & delivered)} of {len(posted)} batches delivered", t0)
            time.sleep(0.25)

        acked = receiver.acked()
        delivered = {b for answers in acked.values() for _, batches in answers for b in batches}
        duplicates = sum(len(answers) - 1 for answers in acked.values() if len(answers) > 1)
        missing = sorted(posted - delivered)
        last = max((t for answers in acked.values() for t, _ in answers), default=None)
        drain = None if last is None else last - back_at
        with receiver.lock:
            statuses = Counter(status for _, _, status, _ in receiver.requests)
            during = [r for r in receiver.requests if fail_started <= r[0] < back_at]

        print()
        print(f"events posted:           {len(posted) * PER_BATCH} ({len(posted)} batches; POST errors {len(errors)})")
        print(f"notifications expected:  {len(posted)}")
        print(f"delivered (2xx keys):    {len(acked)}")
        print(f"duplicates:              {duplicates}")
        print(f"missing:                 {len(missing)}" + (f" (batches {missing[:20]})" if missing else ""))
        print(f"receiver requests:       {sum(statuses.values())} ({dict(sorted(statuses.items()))})")
        window = FAIL_SECONDS if args.scenario == "chaos" else args.outage_seconds
        per_key = Counter(key for _, key, _, _ in during)
        print(
            f"attempts during the {window:g} s of 503: {len(during)} for {len(per_key)} notifications "
            f"(at most {max(per_key.values(), default=0)} per notification)"
        )
        print(
            "drain time:              "
            + ("-" if drain is None else f"{drain:.1f} s")
            + " (receiver back -> last delivery)"
        )
        for error in errors[:5]:
            print(f"  POST error: {error}")
        met = not missing and not duplicates and drain is not None and drain <= DRAIN_TARGET and not errors
        if args.scenario == "chaos":
            print(f"target (0 missing, 0 duplicates, drained within {DRAIN_TARGET:g} s): {'met' if met else 'MISSED'}")
        else:
            met = not missing and not duplicates and not errors
            print(f"everything delivered after the outage, no duplicates: {'yes' if met else 'NO'}")
        if missing or duplicates:
            investigate(set(acked))
            print("  last serve log lines:")
            for line in serve_log.read_text(errors="replace").splitlines()[-15:]:
                print(f"    {line}")
        keep = keep or not met
        return 0 if met else 1
    finally:
        if serve is not None and serve.poll() is None:
            serve.terminate()
            try:
                serve.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait(timeout=10)
        if serve is not None:
            try:  # anything of its session left behind (e.g. an orphaned pool process)
                os.killpg(serve.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        redis.stop()
        receiver.close()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("chaos", "outage"), default="chaos")
    parser.add_argument("--outage-seconds", type=float, default=300, help="outage scenario: 503 this long")
    parser.add_argument("--rate", type=float, default=5, help="batches posted per second (default 5)")
    parser.add_argument("--redis-port", type=int, default=6393, help="the bench's own redis-server (default 6393)")
    parser.add_argument("--wait", type=float, help="seconds after the receiver is back to wait for deliveries")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary folder with serve.log")
    args = parser.parse_args()
    if args.redis_port == 6379:
        parser.error("use a spare port: 6379 is the shared Redis")
    if args.rate <= 0 or args.outage_seconds <= 0:
        parser.error("--rate and --outage-seconds must be > 0")

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
