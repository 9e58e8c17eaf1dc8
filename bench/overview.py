"""Server time of the Overview (each period), the Vulnerabilities list and the Images list with 1,000,000 events
(target for the Overview: p50 <= 150 ms).

Builds a PostgreSQL database of its own (``kcs_overview_bench``) and fills it with SQL (INSERT … SELECT
generate_series): 1,000,000 events received over the last 30 days in 10,000 batches of 100 — scans of 500 images
(each scanned 18 times, its findings drifting between scans, 3,000 finding IDs, 10 % of them in one of 4 clusters),
and one batch in ten of Falco runtime alerts — plus 20,000 notifications (sent, failed, suppressed, pending) of 20
policies through 10 outputs. The read models are then computed from the events with ``events.insight.rebuild``
(what ``manage.py rebuild_insight`` runs), and checked against the events. Each page is rendered in-process
through the whole Django stack (the test client without template instrumentation, as in production).

    .venv/bin/python bench/overview.py [--events 1000000] [--rounds 30] [--reuse]   (needs PostgreSQL on 127.0.0.1)

Besides the wall-clock time it prints the time the request spent in Python (this process's CPU time) and waiting for
PostgreSQL: on a shared machine the wall-clock time mostly says how busy the cores were. ``--reuse`` measures the
database a previous run left, without building it again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SqlMeter, bench_env, percentile, recreate_database  # noqa: E402

EVENTS_PER_BATCH = 100
IMAGES = 500
FINDING_IDS = 3000
NOTIFICATIONS = 20_000


def populate(events: int) -> None:
    from django.db import connection

    from notifications.models import NotificationIntegration
    from policies.models import ResponsePolicy

    batches = max(1, events // EVENTS_PER_BATCH)
    outputs = NotificationIntegration.objects.bulk_create(
        NotificationIntegration(name=f"Output {n}", kind=("email", "webhook")[n % 2]) for n in range(10)
    )
    policies = ResponsePolicy.objects.bulk_create(ResponsePolicy(name=f"Policy {n:02d}") for n in range(20))
    params = {"per": EVENTS_PER_BATCH, "batches": batches, "images": IMAGES, "ids": FINDING_IDS}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_eventbatch (id, source, received_at, received, created, evaluated_at) "
            "SELECT md5('batch' || b)::uuid, CASE WHEN b %% 10 = 9 THEN 'falco' ELSE 'trivy' END, "
            "now() - interval '30 days' + b * (interval '30 days' / %(batches)s), %(per)s, %(per)s, "
            "now() - interval '30 days' + b * (interval '30 days' / %(batches)s) "
            "FROM generate_series(0, %(batches)s - 1) AS b",
            params,
        )
        # Event i belongs to batch b = i / per; the batch scans image b % images (scan number b / images), whose
        # findings drift by one ID per scan; every tenth batch is Falco runtime alerts about the same image.
        cursor.execute(
            "INSERT INTO events_securityevent (type, severity, title, description, source, registry, repository, "
            "tag, digest, cluster, namespace, pod, container, node, finding_id, package, installed_version, "
            "fixed_version, cvss, details, fingerprint, batch_id, occurred_at, received_at) "
            "SELECT CASE WHEN runtime THEN 'runtime' ELSE 'vulnerability' END, "
            "CASE WHEN runtime THEN 3 ELSE (f * 7) %% 6 END, "
            "CASE WHEN runtime THEN 'Terminal shell in container' ELSE 'CVE-2026-' || f || ': overflow' END, "
            "'', CASE WHEN runtime THEN 'falco' ELSE 'trivy' END, 'registry.example.com', "
            "'team-' || img %% 25 || '/service-' || img, '1.' || img %% 7, "
            "'sha256:' || md5('img' || img) || md5('digest' || img), "
            "CASE WHEN runtime OR img %% 10 = 0 THEN 'prod-' || img %% 4 ELSE '' END, "
            "CASE WHEN runtime THEN 'shop' ELSE '' END, CASE WHEN runtime THEN 'pod-' || img ELSE '' END, '', '', "
            "CASE WHEN runtime THEN 'Terminal shell in container' ELSE 'CVE-2026-' || f END, "
            "'lib' || f %% 300, '1.0.' || f %% 9, CASE WHEN f %% 3 = 0 THEN '' ELSE '1.1.' || f %% 9 END, "
            "CASE WHEN runtime THEN NULL ELSE (f %% 100) / 10.0 END, '{}'::jsonb, md5(i::text) || md5('f' || i), "
            "md5('batch' || b)::uuid, received, received "
            "FROM (SELECT i, b, img, b %% 10 = 9 AS runtime, "
            "      (img * 37 + i %% %(per)s + b / %(images)s) %% %(ids)s AS f, "
            "      now() - interval '30 days' + b * (interval '30 days' / %(batches)s) AS received "
            "      FROM (SELECT i, i / %(per)s AS b, (i / %(per)s) %% %(images)s AS img "
            "            FROM generate_series(0, %(batches)s * %(per)s - 1) AS i) AS ids) AS e",
            params,
        )
        cursor.execute(
            "INSERT INTO notifications_notification (policy_id, policy_name, integration_id, integration_name, "
            "status, attempts, next_attempt_at, last_error, subject, body, idempotency_key, created_at, trigger, "
            "trigger_label, muted_by) "
            "SELECT p.id, p.name, o.id, o.name, "
            "(ARRAY['sent','sent','sent','sent','sent','sent','sent','suppressed','failed','pending'])[1 + n %% 10], "
            "1, now(), '', '', '', md5('n' || n), now() - interval '30 days' + n * (interval '30 days' / %(total)s), "
            "'critical_vulnerabilities', 'Critical vulnerabilities', '' "
            "FROM generate_series(0, %(total)s - 1) AS n "
            "JOIN (SELECT id, name, row_number() OVER (ORDER BY id) - 1 AS k FROM policies_responsepolicy) p "
            "  ON p.k = n %% %(policies)s "
            "JOIN (SELECT id, name, row_number() OVER (ORDER BY id) - 1 AS k FROM notifications_notificationintegration) o "
            "  ON o.k = n %% %(outputs)s",
            {"total": NOTIFICATIONS, "policies": len(policies), "outputs": len(outputs)},
        )
        cursor.execute("ANALYZE")


def check(events: int) -> None:
    """The hourly counts add up to the events stored, per severity."""
    from django.db.models import Count, Sum

    from events.models import EventCount, SecurityEvent

    stored = dict(SecurityEvent.objects.values_list("severity").annotate(n=Count("id")).order_by())
    counted = dict(EventCount.objects.values_list("severity").annotate(n=Sum("count")).order_by())
    assert stored == counted, (stored, counted)
    assert sum(stored.values()) == events


def timed(client, url: str, rounds: int) -> tuple[list[float], list[float], list[float], int]:
    from django.db import connection

    wall, cpu, sql = [], [], []
    for _ in range(rounds):
        meter = SqlMeter()
        with connection.execute_wrapper(meter):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        sql.append(meter.seconds * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return wall, cpu, sql, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure the database of a previous run")
    args = parser.parse_args()
    env = bench_env("kcs_overview_bench", broker_db=3)
    if not args.reuse:
        recreate_database(env)
    os.environ.update(env, ALLOWED_HOSTS="testserver")
    Path(env["KCS_VAR_DIR"], "staticfiles").mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "kcs.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from events.insight import rebuild

    if not args.reuse:
        started = time.perf_counter()
        populate(args.events)
        print(
            f"stored {args.events:,} events, {NOTIFICATIONS:,} notifications in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        counts = rebuild()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"read models rebuilt in {time.perf_counter() - started:.1f} s: {counts}")
        check(args.events)
        print("check: hourly counts equal the stored events per severity")
        get_user_model().objects.create_superuser("bench-admin", "", "x")

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())} ({os.cpu_count()} cores)")
    cases = [
        ("Overview, last 24 hours", "/overview/?period=24h"),
        ("Overview, last 7 days", "/overview/?period=7d"),
        ("Overview, last 30 days", "/overview/?period=30d"),
        ("Vulnerabilities, first page", "/vulnerabilities/"),
        ("Vulnerabilities, sorted by images", "/vulnerabilities/?ordering=-images"),
        ("Vulnerabilities, search 'lib12'", "/vulnerabilities/?search=lib12"),
        ("Vulnerabilities, repository team-3/*", "/vulnerabilities/?repository=team-3/*"),
        ("Images, first page", "/images/"),
        ("Images, search 'service-42'", "/images/?search=service-42"),
        ("Images with CVE-2026-100 open", "/images/?finding_id=CVE-2026-100"),
        ("API vulnerabilities, first page", "/api/v1/vulnerabilities/"),
        ("API images, first page", "/api/v1/images/"),
    ]
    client.get("/overview/")  # warm up: templates, connection
    for label, url in cases:
        wall, cpu, sql, size = timed(client, url, args.rounds)
        print(
            f"{label:<38} {size // 1024:>4} KiB: p50 {percentile(wall, 50):6.1f} ms, p95 {percentile(wall, 95):6.1f} ms"
            f"  (Python CPU p50 {percentile(cpu, 50):5.1f} ms, database p50 {percentile(sql, 50):5.1f} ms)"
        )
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print("target: Overview p50 <= 150 ms")


if __name__ == "__main__":
    main()
