"""Retention purge beside live ingestion: does deleting 1,000,000 expired events slow ingestion down?

Bulk-loads 1,000,000 events received 100 days ago (1,000 batches of 1,000, evaluated, with one sent notification
per batch carrying 5 of its events and one pending notification whose events must stay), then ingests 1,000
events/s over HTTP (gunicorn, 2 workers × 4 threads; 20 POSTs/s of 50 events from 4 client processes on a fixed
schedule, latency counted from each request's scheduled time) — first alone, then while `manage.py purge` runs.
Prints the ingest p99 of both phases, their ratio (target: at most 2×) and the purge's duration and counts.

    .venv/bin/python bench/retention.py [--events 1000000] [--rest 1.0]   (needs PostgreSQL and Redis on 127.0.0.1)

No Celery worker runs: evaluation of the new batches would compete for the same two cores in both phases alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, bench_env, describe, gunicorn, make_token, percentile, recreate_database  # noqa: E402
from bench.ingest import event  # noqa: E402

EVENTS_PER_BATCH = 1000
RATE = 20  # requests per second, all clients together
EVENTS_PER_REQUEST = 50  # RATE × EVENTS_PER_REQUEST = 1,000 events/s
CLIENTS = 4
BASELINE_SECONDS = 45
WARM_UP_SECONDS = 5


def bulk_load(env: dict[str, str], events: int) -> float:
    """Expired events, batches and notifications straight into PostgreSQL (INSERT … SELECT generate_series)."""
    import psycopg

    batches = max(1, events // EVENTS_PER_BATCH)
    started = time.perf_counter()
    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO events_eventbatch (id, source, received_at, received, created, evaluated_at) "
            "SELECT md5('batch' || b)::uuid, 'trivy', now() - interval '100 days' + b * interval '1 second', "
            "%(per)s, %(per)s, now() - interval '100 days' FROM generate_series(0, %(batches)s - 1) AS b",
            {"per": EVENTS_PER_BATCH, "batches": batches},
        )
        conn.execute(
            "INSERT INTO events_securityevent (type, severity, title, description, source, registry, repository, "
            "tag, digest, cluster, namespace, pod, container, node, finding_id, package, installed_version, "
            "fixed_version, cvss, details, fingerprint, batch_id, occurred_at, received_at) "
            "SELECT 'vulnerability', 1 + i %% 5, 'libfoo: heap overflow in parser (' || i || ')', "
            "repeat('A heap overflow in libfoo allows remote code execution. ', 3), 'trivy', "
            "'registry.example.com', 'team-' || i %% 20 || '/service', '1.2.3', '', '', '', '', '', '', "
            "'CVE-2026-' || i, 'libfoo', '1.0.0', '1.0.1', 7.5, '{\"Status\": \"fixed\"}'::jsonb, "
            "md5(i::text) || md5('f' || i), md5('batch' || (i / %(per)s))::uuid, "
            "now() - interval '100 days', now() - interval '100 days' + (i / %(per)s) * interval '1 second' "
            "FROM generate_series(0, %(events)s - 1) AS i",
            {"per": EVENTS_PER_BATCH, "events": batches * EVENTS_PER_BATCH},
        )
        # One sent notification per batch carrying 5 of its events, and one pending one: its 5 events must stay.
        conn.execute(
            "INSERT INTO notifications_notification (policy_name, status, attempts, next_attempt_at, last_error, "
            "subject, body, idempotency_key, created_at, batch_id, integration_name, trigger, trigger_label) "
            "SELECT 'bench', CASE WHEN b = 0 THEN 'pending' ELSE 'sent' END, 1, now(), '', '', '', md5('n' || b), "
            "now() - interval '100 days', md5('batch' || b)::uuid, 'hook', '', '' "
            "FROM generate_series(0, %(batches)s - 1) AS b",
            {"batches": batches},
        )
        conn.execute(
            "INSERT INTO notifications_notification_events (notification_id, securityevent_id) "
            "SELECT n.id, e.id FROM notifications_notification n "
            "JOIN LATERAL (SELECT id FROM events_securityevent WHERE batch_id = n.batch_id ORDER BY id LIMIT 5) e "
            "ON true"
        )
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _client(args) -> None:
    """Post on a fixed schedule until ``stop``; puts (scheduled time, latency ms) pairs on ``results``."""
    base, token, client, start, stop, results = args
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    bodies = [
        json.dumps([event(client * 10_000_000 + b * EVENTS_PER_REQUEST + i) for i in range(EVENTS_PER_REQUEST)])
        for b in range(20)
    ]
    interval = CLIENTS / RATE
    samples, k = [], 0
    while not stop.is_set():
        scheduled = start + (k + client / CLIENTS) * interval
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        conn.request("POST", "/api/v1/events/", body=bodies[k % len(bodies)], headers=headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 201:
            raise SystemExit(f"unexpected {answer.status}")
        samples.append((scheduled, (time.time() - scheduled) * 1000))
        k += 1
    results.put(samples)


def under_load(base: str, token: str, work) -> tuple[list[float], object, float, float]:
    """Run ``work()`` while the clients post; returns the latencies (ms) of requests scheduled while it ran, its
    value, and its start and end times."""
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.Queue()
    start = time.time() + 0.5
    clients = [context.Process(target=_client, args=((base, token, c, start, stop, results),)) for c in range(CLIENTS)]
    for process in clients:
        process.start()
    time.sleep(WARM_UP_SECONDS)
    began = time.time()
    value = work()
    ended = time.time()
    stop.set()
    samples = [sample for _ in clients for sample in results.get()]
    for process in clients:
        process.join()
    return [latency for scheduled, latency in samples if began <= scheduled <= ended], value, began, ended


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rest", type=float, default=None, help="the purge's --rest (default: the product's)")
    options = parser.parse_args()
    env = bench_env("kcs_bench_retention")
    recreate_database(env)
    token = make_token(env)
    print(f"bulk-loaded {options.events:,} events received 100 days ago in {bulk_load(env, options.events):.1f} s")

    def purge() -> str:
        command = [PYTHON, "manage.py", "purge"] + ([] if options.rest is None else ["--rest", str(options.rest)])
        return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout

    with gunicorn(env) as base:
        baseline, _, _, _ = under_load(base, token, lambda: time.sleep(BASELINE_SECONDS))
        during, output, began, ended = under_load(base, token, purge)
    print(output.rstrip())
    print(f"ingest at {RATE * EVENTS_PER_REQUEST:,} events/s ({RATE} POSTs/s of {EVENTS_PER_REQUEST} events):")
    print(f"  without the purge: {describe(baseline)} ({len(baseline)} requests)")
    print(f"  during the purge:  {describe(during)} ({len(during)} requests)")
    ratio = percentile(during, 99) / percentile(baseline, 99)
    print(f"p99 during / without the purge: {ratio:.2f}× (target ≤ 2×); purge took {ended - began:.1f} s")


if __name__ == "__main__":
    main()
