"""Delivery figures with gunicorn, one real Celery worker, Redis and PostgreSQL on this machine.

Prints:
1. latency from an event POST to the webhook receiver getting the message, at 50 events/s (target p50 <= 100 ms,
   p99 <= 500 ms);
2. evaluation time of a 1,000-event batch with 10,000 enabled policies (target <= 200 ms);
3. delivery throughput of webhook messages with one worker (target >= 200 messages/s).

    .venv/bin/python bench/delivery.py          (needs PostgreSQL and Redis on 127.0.0.1)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, bench_env, describe, fresh_django, gunicorn, make_token  # noqa: E402

RATE = 50  # events per second
DURATION = 20  # seconds of steady load
POLICIES = 10_000
SCOPES = 2_000
BATCH = 1_000
THROUGHPUT_MESSAGES = 3_000
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "2"))
WORKER_POOL = os.environ.get("BENCH_WORKER_POOL", "prefork")


class Receiver:
    """A webhook receiver on loopback that notes when each event id arrives."""

    def __init__(self):
        self.arrivals: dict[int, float] = {}
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; without this, Nagle + delayed ACK add 40 ms to each answer.
            disable_nagle_algorithm = True

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.perf_counter()
                with receiver.lock:
                    receiver.count += 1
                    for event in body["events"]:
                        receiver.arrivals.setdefault(event["id"], now)
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


def start_worker(env: dict[str, str]) -> subprocess.Popen:
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
            f"--pool={WORKER_POOL}",
            "-c",
            str(WORKER_CONCURRENCY),
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
    )
    time.sleep(4)  # import and connect; the first messages would simply wait in Redis anyway
    return process


def event(i: int, run: str) -> dict:
    return {
        "type": "vulnerability",
        "severity": "critical",
        "title": f"libfoo: heap overflow ({i})",
        "source": "trivy",
        "registry": "registry.example.com",
        "repository": "shop/payments",
        "tag": "1.2.3",
        "finding_id": f"CVE-2026-{i:05d}",
        "package": "libfoo",
        "installed_version": "1.0.0",
        "fixed_version": "1.0.1",
        "uid": f"{run}-{i}",
        "cluster": "prod-1",
        "namespace": "shop",
    }


def latency(base: str, token: str, receiver: Receiver) -> None:
    run = uuid.uuid4().hex[:8]
    total = RATE * DURATION
    sent_at: dict[int, float] = {}
    local = threading.local()

    def post(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        answer = session.post(
            f"{base}/api/v1/events/", json=event(i, run), headers={"Authorization": f"Token {token}"}, timeout=30
        )
        answer.raise_for_status()
        sent_at[answer.json()["ids"][0]] = started

    with ThreadPoolExecutor(max_workers=8) as pool:
        start = time.perf_counter()
        for i in range(total):  # an even 50/s schedule, whatever each request takes
            delay = start + i / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, i)
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and not all(i in receiver.arrivals for i in sent_at):
        time.sleep(0.05)
    lat = [(receiver.arrivals[i] - t) * 1000 for i, t in sent_at.items() if i in receiver.arrivals]
    print(
        f"1. POST -> webhook receiver at {RATE} events/s for {DURATION} s ({total} events, "
        f"{len(lat)} delivered): {describe(lat)}, max {max(lat):.1f} ms"
    )


def evaluation() -> None:
    """In this process (the worker's code path): 10,000 enabled policies, five per scope (one per repository
    pattern, e.g. ``team-7/*``), ten of them on Global.

    Two batch shapes: one scan report (1,000 findings of one image, the usual batch) and 1,000 runtime events
    from 200 different workloads (each distinct resource is tested against the scopes once).
    """
    from django.utils import timezone

    from events.models import EventBatch, SecurityEvent
    from events.services import fingerprint
    from kcs.queueing import send_now
    from notifications.delivery import DELIVER_TASK
    from notifications.models import NotificationIntegration
    from policies import evaluation, index_cache
    from policies.models import NotificationMethod, ResponsePolicy, Scope, Trigger

    hook = NotificationIntegration.objects.get(name="bench hook")
    scopes = Scope.objects.bulk_create(
        Scope(
            name=f"bench scope {i}",
            registries=["registry.example.com"] if i % 2 else [],
            repositories=[f"team-{i}/*"],
            clusters=[f"prod-{i % 20}"] if i % 3 == 0 else [],
        )
        for i in range(SCOPES)
    )
    global_scope = Scope.objects.get(is_global=True)
    triggers = list(Trigger)
    policies = ResponsePolicy.objects.bulk_create(
        ResponsePolicy(name=f"bench policy {i}", trigger=triggers[i % len(triggers)], repeat_interval=3600)
        for i in range(POLICIES)
    )
    ResponsePolicy.scopes.through.objects.bulk_create(
        ResponsePolicy.scopes.through(
            responsepolicy_id=p.pk, scope_id=global_scope.pk if i % 1000 == 0 else scopes[i % SCOPES].pk
        )
        for i, p in enumerate(policies)
    )
    NotificationMethod.objects.bulk_create(NotificationMethod(policy=p, integration=hook) for p in policies)
    index_cache.invalidate()
    analyze()
    severities = (5, 4, 3, 2, 1)

    def batch(shape: str) -> str:
        now = timezone.now()
        run = uuid.uuid4().hex[:8]
        stored = EventBatch.objects.create(source="bench", received=BATCH, created=BATCH)
        rows = []
        for i in range(BATCH):
            if shape == "report":
                data = {
                    "type": "vulnerability",
                    "registry": "registry.example.com",
                    "repository": "team-7/api",
                    "tag": "1.2.3",
                    "package": f"lib{i % 97}",
                }
            else:
                data = {
                    "type": "runtime",
                    "cluster": f"prod-{i % 20}",
                    "namespace": f"ns-{i % 10}",
                    "pod": f"pod-{i % 200}",
                    "repository": f"team-{i % 200}/svc",
                }
            data.update(
                severity=severities[i % 5],
                title=f"finding {run}-{i}",
                source="bench",
                finding_id=f"F-{run}-{i}",
                occurred_at=now,
            )
            rows.append(SecurityEvent(batch=stored, fingerprint=fingerprint(data), **data))
        SecurityEvent.objects.bulk_create(rows)
        return str(stored.id)

    # Evaluation alone is timed here: the new notifications are queued as before the fast path, not sent inline.
    evaluation.first_deliveries = lambda result: [send_now(DELIVER_TASK, pk) for pk in result.pending]
    for shape, label in (("report", "one scan report (1 image)"), ("runtime", "runtime events of 200 workloads")):
        timings, created, first = [], 0, None
        for run in range(6):
            batch_id = batch(shape)
            if shape == "report" and run == 0:
                started = time.perf_counter()
                index_cache.get_index()
                first = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            result = evaluation.evaluate_batch(batch_id)
            timings.append((time.perf_counter() - started) * 1000)
            created = len(result.pending)
        compile_note = f"; compiling the index once: {first:.0f} ms" if first is not None else ""
        print(
            f"2. evaluation of a {BATCH}-event batch, {label}, {len(index_cache.get_index())} enabled policies: "
            f"median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms "
            f"({created} notifications per batch{compile_note})"
        )
    ResponsePolicy.objects.filter(name__startswith="bench policy").delete()
    Scope.objects.filter(name__startswith="bench scope").delete()


def analyze() -> None:
    """Refresh the planner's statistics after bulk loading, as autovacuum would shortly do in production."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def throughput(receiver: Receiver) -> None:
    from django.utils import timezone

    from kcs.queueing import send_now
    from notifications.delivery import DELIVER_TASK
    from notifications.models import Notification, NotificationIntegration

    hook = NotificationIntegration.objects.get(name="bench hook")
    events = list(__import__("events.models", fromlist=["SecurityEvent"]).SecurityEvent.objects.all()[:1])
    now = timezone.now()
    rows = Notification.objects.bulk_create(
        Notification(
            integration=hook,
            integration_name=hook.name,
            policy_name="bench",
            created_at=now,
            next_attempt_at=now,
            idempotency_key=uuid.uuid4().hex,
        )
        for _ in range(THROUGHPUT_MESSAGES)
    )
    Notification.events.through.objects.bulk_create(
        Notification.events.through(notification_id=n.pk, securityevent_id=events[0].pk) for n in rows
    )
    analyze()
    before = receiver.count
    started = time.perf_counter()
    for notification in rows:
        send_now(DELIVER_TASK, notification.pk)
    queued = time.perf_counter() - started
    while receiver.count - before < THROUGHPUT_MESSAGES and time.perf_counter() - started < 120:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    done = receiver.count - before
    print(
        f"3. delivery throughput, one worker ({WORKER_POOL}, concurrency {WORKER_CONCURRENCY}): {done} webhook messages "
        f"in {elapsed:.2f} s = {done / elapsed:.0f} messages/s (queueing them took {queued:.2f} s)"
    )


def main() -> None:
    env = bench_env("kcs_bench_delivery", broker_db=10)
    env["KCS_ALLOW_PRIVATE_DESTINATIONS"] = "true"  # the receiver is on loopback
    fresh_django(env)
    from notifications.models import NotificationIntegration
    from notifications.secrets import encrypt
    from policies.models import NotificationMethod, ResponsePolicy, Scope

    receiver = Receiver()
    hook = NotificationIntegration.objects.create(
        name="bench hook",
        kind="webhook",
        config={"url": receiver.url, "auth": "hmac"},
        secrets_encrypted=encrypt({"hmac_secret": "bench"}),
    )
    policy = ResponsePolicy.objects.create(name="bench latency", trigger="critical_vulnerabilities", repeat_interval=0)
    policy.scopes.set([Scope.objects.get(is_global=True)])
    NotificationMethod.objects.create(policy=policy, integration=hook)
    token = make_token(env)
    worker = start_worker(env)
    try:
        with gunicorn(env, port=8766) as base:
            print(
                f"gunicorn 2x4 threads, celery worker {WORKER_POOL} -c {WORKER_CONCURRENCY}, PostgreSQL, Redis; "
                f"{os.cpu_count()} CPUs"
            )
            latency(base, token, receiver)
        policy.delete()
        evaluation()
        throughput(receiver)
    finally:
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
