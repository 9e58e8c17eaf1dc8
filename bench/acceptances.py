"""Risk acceptances at scale (issue 9), on PostgreSQL: with 10,000 active acceptances,

- building the acceptance index (what each process does once after a change): one query plus compiling;
- ``covering()`` per event, the lookup evaluation makes for every matched event (target: O(1), a few µs);
- the events list page (50 events, "Accepted until …" looked up in one query).

Builds a database of its own (``kcs_acceptance_bench``) from scratch each run.

    .venv/bin/python bench/acceptances.py
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, describe, recreate_database  # noqa: E402

ACCEPTANCES = 10_000
EVENTS = 100_000
FINDINGS = 5_000
REGISTRIES = ["registry.example.com", "docker.io", "ghcr.io", "quay.io"]
rng = random.Random(9)


def populate_acceptances(count: int = ACCEPTANCES) -> None:
    """``count`` active acceptances over a realistic mix of findings and extents (stored directly, in bulk), and a
    new acceptance revision so every process rebuilds its index. Also used by bench/noise.py."""
    from django.utils import timezone

    from events.models import EventType, Extent, RiskAcceptance
    from kcs.revisions import ACCEPTANCES as REVISION
    from kcs.revisions import renew_revision

    now = timezone.now()
    RiskAcceptance.objects.all().delete()
    rows, seen = [], set()
    while len(rows) < count:
        extent = rng.choices([Extent.IMAGE, Extent.REPOSITORY, Extent.ALL], weights=[6, 3, 1])[0]
        fields = {
            "type": rng.choice([EventType.VULNERABILITY] * 8 + [EventType.MISCONFIGURATION, EventType.SENSITIVE_DATA]),
            "finding_id": f"CVE-2024-{rng.randrange(FINDINGS)}",
            "extent": extent,
            "registry": "" if extent == Extent.ALL else rng.choice(REGISTRIES),
            "repository": "" if extent == Extent.ALL else f"team-{rng.randrange(40)}/svc-{rng.randrange(5)}",
            "digest": "",
            "tag": f"1.{rng.randrange(9)}" if extent == Extent.IMAGE else "",
        }
        key = tuple(fields.values())
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            RiskAcceptance(
                **fields,
                reason="bench",
                accepted_by_name="bench",
                accepted_at=now,
                expires_at=None if rng.random() < 0.2 else now + timedelta(days=rng.randrange(1, 365)),
            )
        )
    RiskAcceptance.objects.bulk_create(rows, batch_size=2000)
    renew_revision(REVISION)


def sample_events(count: int):
    from events.models import EventType, SecurityEvent

    return [
        SecurityEvent(
            id=n + 1,
            type=rng.choice([EventType.VULNERABILITY] * 8 + [EventType.MALWARE, EventType.MISCONFIGURATION]),
            severity=rng.randrange(6),
            registry=rng.choice(REGISTRIES),
            repository=f"team-{rng.randrange(40)}/svc-{rng.randrange(5)}",
            tag=f"1.{rng.randrange(9)}",
            digest="",
            finding_id=f"CVE-2024-{rng.randrange(FINDINGS)}",
        )
        for n in range(count)
    ]


def bench_index() -> None:
    from django.db import connection
    from django.utils import timezone

    from events.acceptance_index import AcceptanceIndex

    timings, cpu = [], []
    for _ in range(9):
        connection.close()  # a new connection each time, as a process after a change meets it
        connection.ensure_connection()
        started, started_cpu = time.perf_counter(), time.process_time()
        index = AcceptanceIndex.load()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    print(
        f"building the index of {len(index):,} active acceptances (one query + compiling): {describe(timings)}; "
        f"CPU time of this process: min {min(cpu):.1f} ms, median {statistics.median(cpu):.1f} ms"
    )

    events = sample_events(EVENTS)
    now = timezone.now()
    covering = index.covering
    covered = 0
    started, started_cpu = time.perf_counter(), time.process_time()
    for event in events:
        if covering(event, now) is not None:
            covered += 1
    mean = (time.perf_counter() - started) / len(events) * 1e6
    mean_cpu = (time.process_time() - started_cpu) / len(events) * 1e6
    singles = []
    for event in events[:20_000]:
        begun = time.perf_counter()
        covering(event, now)
        singles.append((time.perf_counter() - begun) * 1e6)
    singles.sort()
    print(
        f"covering() per event, {len(events):,} events: mean {mean:.2f} µs (CPU {mean_cpu:.2f} µs; timed one by one: median "
        f"{statistics.median(singles):.2f} µs, p99 {singles[int(len(singles) * 0.99)]:.2f} µs); "
        f"{covered / len(events):.1%} of events covered"
    )


def bench_events_page() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from events import services

    services.ingest(
        [
            {
                "type": "vulnerability",
                "severity": "critical",
                "title": f"finding {n}",
                "finding_id": f"CVE-2024-{n % FINDINGS}",
                "registry": REGISTRIES[n % 4],
                "repository": f"team-{n % 40}/svc-{n % 5}",
                "tag": f"1.{n % 9}",
            }
            for n in range(200)
        ],
        source="bench",
    )
    client = Client()
    admin = get_user_model().objects.filter(username="bench-admin").first()
    client.force_login(admin or get_user_model().objects.create_superuser("bench-admin", "", "x"))
    client.get("/events/")
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/events/")
        timings.append((time.perf_counter() - started) * 1000)
    accepted = response.content.count(b"badge-accepted")
    print(
        f"events list page (50 events, {accepted} shown accepted): {describe(timings)}, {len(queries)} queries per page"
    )


def main() -> None:
    env = bench_env("kcs_acceptance_bench", broker_db=12)
    recreate_database(env)
    os.environ.update(env, ALLOWED_HOSTS="testserver", CELERY_TASK_ALWAYS_EAGER="false")
    os.environ["DJANGO_SETTINGS_MODULE"] = "kcs.settings"
    import django

    django.setup()
    from kcs import queueing

    queueing.send_now = lambda *args, **kwargs: True  # the bench measures lookups, not evaluation
    started = time.perf_counter()
    populate_acceptances()
    print(f"populated {ACCEPTANCES:,} acceptances in {time.perf_counter() - started:.1f} s")
    print("load average (1, 5, 15 min): " + ", ".join(f"{value:.1f}" for value in os.getloadavg()))
    bench_index()
    bench_events_page()


if __name__ == "__main__":
    main()
