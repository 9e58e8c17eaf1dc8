"""Where a single finding's CPU time goes, stage by stage, in one process (companion of bench/peer.py).

Posts --count single findings through the real WSGI application (middleware, token auth, throttle, DRF, ingest:
validation, the insight read models, the commit and the publish of the evaluation task to the broker), then
evaluates each batch as the ``policies.evaluate_batch`` task does, first delivery attempt (fast path) included, to a
webhook receiver on loopback. Each stage's CPU time (this process only: PostgreSQL's own work is not in it) and wall
time per finding is printed, with the statements of one POST and of one evaluation.

Run beside nothing else to compare two versions: CPU time per stage is steadier than latency on a shared machine,
but a busy machine still slows everything (caches, frequency).

    .venv/bin/python bench/peer_stages.py [--count 300]     (needs PostgreSQL and Redis on 127.0.0.1)
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, critical_finding, fresh_django  # noqa: E402

WARM = 20  # findings posted and evaluated before measuring


class Statements:
    """Counts the statements run on a connection (a wrapper: a request's start empties Django's own query log)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Stages:
    """CPU and wall time spent in wrapped functions (nested ones count in their callers too)."""

    def __init__(self):
        self.spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])

    def wrap(self, owner, name: str, label: str) -> None:
        function = getattr(owner, name)

        @functools.wraps(function)
        def timed(*args, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                entry = self.spent[label]
                entry[0] += 1
                entry[1] += time.process_time() - cpu
                entry[2] += time.perf_counter() - wall

        setattr(owner, name, timed)

    def report(self, title: str, findings: int, cpu: float, wall: float) -> None:
        print(f"{title}: {cpu * 1000 / findings:.2f} ms CPU, {wall * 1000 / findings:.2f} ms wall per finding")
        for label, (calls, cpu, wall) in sorted(self.spent.items(), key=lambda item: -item[1][1]):
            print(
                f"  {label:<44} {cpu * 1000 / findings:6.2f} ms CPU {wall * 1000 / findings:6.2f} ms wall "
                f"({calls / findings:.0f} calls)"
            )
        self.spent.clear()


def receiver() -> str:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/hook"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="findings measured (default 300)")
    args = parser.parse_args()
    env = bench_env("kcs_peer_bench", broker_db=11)
    env.update(KCS_ALLOW_PRIVATE_DESTINATIONS="true", ALLOWED_HOSTS="testserver")
    fresh_django(env)

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory

    import kcs.wsgi  # the application as gunicorn loads it, warm-up included
    from events import insight, services
    from events.models import EventBatch
    from kcs import queueing
    from kcs.celery import app
    from notifications import delivery
    from notifications.channels.webhook import WebhookChannel
    from notifications.models import NotificationIntegration
    from policies import evaluation, tasks
    from policies.models import NotificationMethod, ResponsePolicy, Scope
    from policies.warmup import warm_up

    hook = NotificationIntegration.objects.create(
        name="stages hook", kind="webhook", config={"url": receiver(), "auth": "none"}
    )
    policy = ResponsePolicy.objects.create(name="stages", trigger="critical_vulnerabilities", repeat_interval=0)
    policy.scopes.set([Scope.objects.get(is_global=True)])
    NotificationMethod.objects.create(policy=policy, integration=hook)
    get_user_model().objects.create_superuser("bench", "", "x")
    out = StringIO()
    call_command("create_api_token", "bench", "--name", "stages", stdout=out)
    authorization = f"Token {out.getvalue().strip()}"
    factory = RequestFactory()
    run = uuid.uuid4().hex[:8]

    def post(key: str) -> None:
        body = critical_finding(key, "registry.example.com", f"peer/app-{key}")
        request = factory.post(
            "/api/v1/events/", data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=authorization
        )
        status = []
        answer = kcs.wsgi.application(request.environ, lambda code, headers, *rest: status.append(code))
        b"".join(answer)
        answer.close()
        if not status[0].startswith("201"):
            raise RuntimeError(f"POST answered {status[0]}")

    stages = Stages()
    for owner, name, label in (
        (services, "ingest", "ingest (validate, store, commit, publish)"),
        (services, "clean_events", "  validation"),
        (services, "insert_events", "  event row"),
        (services.insight, "record", "  read models (events.insight.record)"),
        (insight, "_record_images", "    images and open findings"),
        (insight, "refresh_findings", "    finding summaries"),
        (services.listeners, "stored", "  listeners (SIEM stream)"),
        (queueing, "send_now", "  publish to the broker"),
    ):
        stages.wrap(owner, name, label)
    for i in range(WARM):
        post(f"{run}-warm-{i}")
    statements = Statements()
    with connection.execute_wrapper(statements):
        post(f"{run}-statements")
    stages.spent.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(args.count):
        post(f"{run}-{i}")
    stages.report("web (one POST each)", args.count, time.process_time() - cpu, time.perf_counter() - wall)
    print(f"  statements of one POST: {statements.count} (BEGIN and COMMIT not counted)")

    warm_up()
    evaluate = tasks.evaluate_batch_task.run  # the task's body, without the broker
    for owner, name, label in (
        (evaluation, "get_index", "policy index (revision check)"),
        (evaluation, "take_unevaluated", "take the batch's events"),
        (evaluation, "_plan", "plan (mutes, repeat marks)"),
        (evaluation, "insert_columns", "insert notifications"),
        (evaluation, "link_events", "link events"),
        (evaluation.alerts, "record_alerts", "alerts log entries"),
        (evaluation, "first_deliveries", "first delivery attempts (after commit)"),
        (evaluation, "_full_events", "  events for the message"),
        (delivery, "_claim", "  claim"),
        (WebhookChannel, "render", "  render"),
        (WebhookChannel, "send", "  HTTP POST to the receiver"),
        (delivery, "record_outcome", "  record the outcome"),
    ):
        stages.wrap(owner, name, label)
    # The tasks the POSTs published stay in the broker: this process runs their bodies itself.
    batches = list(EventBatch.objects.filter(evaluated_at__isnull=True).order_by("received_at").values_list("pk"))
    batches = [str(pk) for (pk,) in batches]
    for batch_id in batches[:WARM]:
        evaluate(batch_id)
    statements = Statements()
    with connection.execute_wrapper(statements):
        evaluate(batches[WARM])
    measured = batches[WARM + 1 :]
    stages.spent.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    for batch_id in measured:
        evaluate(batch_id)
    stages.report("worker (one evaluation each)", len(measured), time.process_time() - cpu, time.perf_counter() - wall)
    print(f"  statements of one evaluation: {statements.count} (BEGIN and COMMIT not counted)")
    app.control.purge()  # the published tasks, whose batches are evaluated now


if __name__ == "__main__":
    main()
