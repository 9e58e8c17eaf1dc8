"""SIEM stream figures with one real Celery worker, Redis and PostgreSQL on this machine, to a TCP collector on loopback.

Prints:
1. what the listeners add to ingestion: one 1,000-event ``ingest()`` (in this process, no worker involved), median of
   15 runs, with no SIEM output, with one that streams the log only, and with one that also streams every event;
2. latency from a security event log entry's commit to its CEF record at the collector, 10 entries/s for 10 s;
3. throughput: 2,000 log entries written at once (``record_many`` in chunks of 100), until the last record arrives.

    .venv/bin/python bench/siem.py          (needs PostgreSQL and Redis on 127.0.0.1)
"""

from __future__ import annotations

import os
import socketserver
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, celery_worker, describe, fresh_django  # noqa: E402
from bench.ingest import event  # noqa: E402

INGEST_RUNS = 15
BATCH = 1_000
RATE = 10  # log entries per second
DURATION = 10
BURST = 2_000


class Collector:
    """A TCP syslog collector (newline framing) that notes when each record with ``externalId=<n>`` arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        collector = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    now = time.perf_counter()
                    text = line.decode()
                    key = text.split("externalId=", 1)[1].split(" ", 1)[0] if "externalId=" in text else text
                    with collector.lock:
                        collector.arrivals.setdefault(key, now)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def ingest_cost(output) -> None:
    """The three settings in turn, run after run, so that a busy machine or a growing table weighs on each alike."""
    from events.services import ingest

    settings = {
        "no SIEM output": (False, False, False),
        "a SIEM output streaming the log only": (True, True, False),
        "a SIEM output streaming every event (one outbox row + 1,000 links per batch)": (True, True, True),
    }
    timings: dict[str, list[float]] = {label: [] for label in settings}
    for run in range(INGEST_RUNS):
        for number, (label, (enabled, log, events)) in enumerate(settings.items()):
            output.enabled = enabled
            output.config = {**output.config, "security_log": log, "security_events": events}
            output.save()
            ingest([event(BATCH)], source="api")  # the first ingest after a change reads the outputs again
            items = [event((run * len(settings) + number) * BATCH + index) for index in range(BATCH)]
            started = time.perf_counter()
            ingest(items, source="api")
            timings[label].append((time.perf_counter() - started) * 1000)
    print(f"1. ingest() of {BATCH} events, {INGEST_RUNS} runs of each (no worker running)")
    for label, values in timings.items():
        print(f"   {label}: median {statistics.median(values):.1f} ms")
    output.enabled = True
    output.config = {**output.config, "security_log": True, "security_events": False}
    output.save()


def entry(index: int):
    from kcs.models import AuditAction, AuditEntry

    return AuditEntry(
        actor_name="bench", action=AuditAction.UPDATE, object_type="response policy", object_id=str(index),
        object_repr=f"bench policy {index}", changes={"enabled": [True, False]}, source="api",
    )  # fmt: skip


def latency(collector: Collector) -> None:
    from kcs import audit

    written: dict[str, float] = {}
    started = time.perf_counter()
    for index in range(RATE * DURATION):
        due = started + index / RATE
        time.sleep(max(0.0, due - time.perf_counter()))
        (stored,) = audit.record_many([entry(index)])
        written[str(stored.pk)] = time.perf_counter()
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and not all(key in collector.arrivals for key in written):
        time.sleep(0.02)
    delays = [(collector.arrivals[key] - at) * 1000 for key, at in written.items() if key in collector.arrivals]
    print(f"2. log entry committed → CEF record at the collector, {RATE}/s for {DURATION} s: {describe(delays)}")
    print(f"   {len(delays)}/{len(written)} received")


def throughput(collector: Collector) -> None:
    from kcs import audit

    before = len(collector.arrivals)
    started = time.perf_counter()
    for chunk in range(0, BURST, 100):
        audit.record_many([entry(BURST + chunk + index) for index in range(100)])
    written = time.perf_counter() - started
    while len(collector.arrivals) - before < BURST and time.perf_counter() - started < 120:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    done = len(collector.arrivals) - before
    print(
        f"3. {BURST} log entries at once: {done} records in {elapsed:.2f} s = {done / elapsed:.0f} records/s "
        f"(writing the entries and their outbox rows took {written:.2f} s)"
    )


def main() -> None:
    env = bench_env("kcs_bench_siem", broker_db=11)
    env["KCS_ALLOW_PRIVATE_DESTINATIONS"] = "true"  # the collector is on loopback
    fresh_django(env)
    from notifications.models import NotificationIntegration

    collector = Collector()
    output = NotificationIntegration.objects.create(
        name="bench SIEM",
        kind="syslog",
        config={
            "host": "127.0.0.1", "port": collector.port, "protocol": "tcp", "format": "rfc5424",
            "tcp_framing": "newline", "tls_verify": True, "ca_certificate": "", "security_log": True,
            "security_events": False,
        },
    )  # fmt: skip
    print(f"PostgreSQL, Redis, {os.cpu_count()} CPUs")
    ingest_cost(output)
    subprocess.run(
        ["redis-cli", "-n", env["CELERY_BROKER_URL"].rsplit("/", 1)[1], "flushdb"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    from notifications.models import Notification

    Notification.objects.all().delete()  # what part 1 queued: the worker starts with an empty outbox
    with celery_worker(env):
        time.sleep(3)  # the worker's start
        latency(collector)
        throughput(collector)


if __name__ == "__main__":
    main()
