"""Noise control at scale (issue 9's figures), on PostgreSQL:

- with 10,000 enabled policies, 1,000 active silences and 10,000 active risk acceptances:
  matching one event (engine + muting) — target ≤ 1 ms mean; evaluating a 1,000-event batch — target ≤ 250 ms;
- policy preview over 1,000,000 stored events spread over 30 days — target p50 ≤ 2 s;
- the event page with its decision trace — target ≤ 100 ms server time.

Builds a database of its own (``kcs_noise_bench``; 1,000,000 events are inserted by SQL in about a minute and kept
for the next run: pass ``--rebuild`` to start over).

    .venv/bin/python bench/noise.py [--rebuild]
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, describe, manage, recreate_database  # noqa: E402

EVENTS = 1_000_000
EVENTS_PER_BATCH = 100
DAYS = 30
POLICIES = 10_000
SCOPES = 300
SILENCES = 1_000
ACCEPTANCES = 10_000
rng = random.Random(9)

DATA_CLUSTERS = ["prod-eu-0", "prod-eu-1", "prod-us-2", "prod-ap-3", "stage-1", "dev-1"]  # as EVENT_SQL makes them
GLOBAL_POLICIES = 10
NAMESPACES = ["payments", "billing", "web", "kube-system", "auth", "search", "batch", "ml"]
REGISTRIES = ["registry.example.com", "docker.io", "ghcr.io", "quay.io"]


def psql(env: dict[str, str], sql: str) -> str:
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", name, "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def database_ready(env: dict[str, str]) -> bool:
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    exists = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atqc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        return False
    manage(env, "migrate", "--noinput", "-v", "0")
    return psql(env, "SELECT count(*) FROM events_securityevent") == str(EVENTS)


EVENT_SQL = """
INSERT INTO events_securityevent (
    type, severity, title, description, source, uid, created_by_id, registry, repository, tag, digest, cluster,
    namespace, pod, container, node, finding_id, package, installed_version, fixed_version, cvss, details,
    fingerprint, batch_id, occurred_at, received_at)
SELECT
    CASE WHEN g % 20 < 16 THEN 'vulnerability' WHEN g % 20 = 16 THEN 'malware' WHEN g % 20 = 17 THEN 'misconfiguration'
         WHEN g % 20 = 18 THEN 'sensitive_data' ELSE 'runtime' END,
    (g::bigint * 7919) % 6,
    'finding ' || (g % 5000), '', 'trivy', NULL, NULL,
    (ARRAY['registry.example.com','docker.io','ghcr.io','quay.io'])[1 + g % 4],
    'team-' || (g % 40) || '/svc-' || (g % 5), '1.' || (g % 9), '',
    (ARRAY['prod-eu-0','prod-eu-1','prod-us-2','prod-ap-3','stage-1','dev-1'])[1 + g % 6],
    (ARRAY['payments','billing','web','kube-system','auth','search','batch','ml'])[1 + g % 8], '', '', '',
    'CVE-2024-' || (g % 5000), 'openssl', '3.0.1', '3.0.7', ((g % 100) / 10.0), '{}'::jsonb,
    md5('f' || (g % 5000) || '/' || (g % 40) || '/' || (g % 5)),
    b.id, b.received_at, b.received_at
FROM generate_series(1, __EVENTS__) AS g
JOIN (SELECT id, row_number() OVER (ORDER BY received_at) AS n, received_at FROM events_eventbatch __WHERE__) AS b
  ON b.n = 1 + (g - 1) / __PER_BATCH__
"""


def event_sql(events: int, per_batch: int, batch_id: str | None = None) -> str:
    """The statement inserting ``events`` generated events, ``per_batch`` per batch (into ``batch_id`` alone, not
    evaluated yet, when given)."""
    sql = EVENT_SQL.replace("__EVENTS__", str(events)).replace("__PER_BATCH__", str(per_batch))
    if batch_id is None:
        return sql.replace("__WHERE__", "")
    return sql.replace("__WHERE__", f"WHERE id = '{batch_id}'")


def populate_events(env: dict[str, str]) -> None:
    batches = EVENTS // EVENTS_PER_BATCH
    psql(
        env,
        "INSERT INTO events_eventbatch (id, source, received_at, received, created, evaluated_at) "
        f"SELECT gen_random_uuid(), 'trivy', t, {EVENTS_PER_BATCH}, {EVENTS_PER_BATCH}, t "
        f"FROM (SELECT now() - interval '{DAYS} days' * random() AS t FROM generate_series(1, {batches})) AS b",
    )
    psql(env, event_sql(EVENTS, EVENTS_PER_BATCH))
    psql(env, "ANALYZE")


def populate_configuration() -> None:
    """10,000 enabled policies as a large organisation has them: each team's policies on its own scopes (a cluster and
    the team's repositories), a handful on Global; so an event matches a few policies, not hundreds."""
    from notifications.models import Notification, NotificationIntegration, RepeatMark
    from policies.models import TRIGGER_DEFAULT_SEVERITY, NotificationMethod, ResponsePolicy, Scope, Trigger

    # The configuration is rebuilt on every run (the million events are kept).
    Notification.objects.all().delete()
    RepeatMark.objects.all().delete()
    ResponsePolicy.objects.all().delete()
    Scope.objects.filter(is_global=False).delete()
    NotificationIntegration.objects.all().delete()
    output = NotificationIntegration.objects.create(
        name="Bench hook", kind="webhook", config={"url": "http://127.0.0.1:9/hook"}
    )
    scopes = [Scope.objects.get(is_global=True)]
    for n in range(SCOPES):
        patterns = {"clusters": [DATA_CLUSTERS[n % len(DATA_CLUSTERS)]], "repositories": [f"team-{n % 40}/*"]}
        if rng.random() < 0.5:
            patterns["namespaces"] = rng.sample(NAMESPACES, 3)
        scopes.append(Scope(name=f"Scope {n}", **patterns))
    scopes = [scopes[0]] + Scope.objects.bulk_create(scopes[1:])
    triggers = list(Trigger)
    policies = []
    for n in range(POLICIES):
        trigger = triggers[n % len(triggers)]
        threshold = rng.choice([3, 4, 5]) if trigger in TRIGGER_DEFAULT_SEVERITY else None
        policies.append(ResponsePolicy(name=f"Policy {n:05d}", trigger=trigger, min_severity=threshold))
    policies = ResponsePolicy.objects.bulk_create(policies)
    through = ResponsePolicy.scopes.through
    through.objects.bulk_create(
        through(responsepolicy_id=p.pk, scope_id=(scopes[0] if n < GLOBAL_POLICIES else scopes[1 + n % SCOPES]).pk)
        for n, p in enumerate(policies)
    )
    NotificationMethod.objects.bulk_create(
        NotificationMethod(policy=p, integration=output, position=0) for p in policies
    )
    populate_mutes()


def populate_mutes() -> None:
    """The active silences and risk acceptances (see :mod:`policies.muting`)."""
    from bench.acceptances import populate_acceptances
    from bench.silences import populate
    from policies.models import Silence

    Silence.objects.all().delete()
    populate(SILENCES, rng)
    populate_acceptances(ACCEPTANCES)


def sample_events(count: int):
    from events.models import EventType, SecurityEvent

    return [
        SecurityEvent(
            type=rng.choice([EventType.VULNERABILITY] * 8 + [EventType.MALWARE, EventType.MISCONFIGURATION]),
            severity=rng.randrange(6),
            title=f"finding {rng.randrange(5000)}",
            source="trivy",
            cluster=rng.choice(DATA_CLUSTERS),
            namespace=rng.choice(NAMESPACES),
            registry=rng.choice(REGISTRIES),
            repository=f"team-{rng.randrange(40)}/svc-{rng.randrange(5)}",
            tag="1.0",
            digest="",
            finding_id=f"CVE-2024-{rng.randrange(5000)}",
        )
        for _ in range(count)
    ]


def bench_matching() -> None:
    from django.utils import timezone

    from policies import muting
    from policies.index_cache import get_index

    index = get_index()
    now = timezone.now()
    mutes = muting.load(now)
    events = sample_events(20_000)
    timings, matched, muted = [], 0, 0
    for event in events:
        started = time.perf_counter()
        found = index.match(event)
        quiet = [p for p in found if mutes.reason(event, p.id, now) is not None]
        timings.append((time.perf_counter() - started) * 1e6)
        matched += len(found)
        muted += len(quiet)
    print(
        f"matching one event (engine + muting), {len(index)} policies: mean {statistics.fmean(timings):.1f} µs, "
        f"p99 {sorted(timings)[int(len(timings) * 0.99)]:.1f} µs; {matched / len(events):.1f} policies matched, "
        f"{muted / len(events):.2f} muted per event  (target: mean ≤ 1,000 µs)"
    )


def bench_batch(env: dict[str, str]) -> None:
    from django.conf import settings
    from django.db import connection

    from policies import evaluation

    evaluation.send_now = lambda *args, **kwargs: True  # the bench measures evaluation, not delivery
    evaluation.delivery.deliver = lambda *args, **kwargs: None
    with connection.cursor() as cursor:  # the batches of earlier runs
        cursor.execute(
            "DELETE FROM events_securityevent WHERE batch_id IN (SELECT id FROM events_eventbatch WHERE source = 'bench')"
        )
        cursor.execute("DELETE FROM events_eventbatch WHERE source = 'bench'")
    # Evaluation runs in a worker, which commits without waiting for the disk flush unless told otherwise
    # (KCS_WORKER_ASYNC_COMMIT, kcs.celery): measured as the worker runs it, then with a durable commit for comparison.
    commits = ["durable"]
    if settings.KCS_WORKER_ASYNC_COMMIT:
        commits.insert(0, "asynchronous")
    for commit in commits:
        with connection.cursor() as cursor:
            cursor.execute(f"SET synchronous_commit TO {'OFF' if commit == 'asynchronous' else 'DEFAULT'}")
        timings, notifications, muted = [], 0, 0
        for _ in range(7):
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO events_eventbatch (id, source, received_at, received, created) "
                    "VALUES (gen_random_uuid(), 'bench', now(), 1000, 1000) RETURNING id"
                )
                batch_id = cursor.fetchone()[0]
                cursor.execute(event_sql(1000, 1000, str(batch_id)))
            started = time.perf_counter()
            result = evaluation.evaluate_batch(str(batch_id))
            timings.append((time.perf_counter() - started) * 1000)
            notifications += len(result.pending) + len(result.suppressed)
            muted += len(result.muted)
        print(
            f"evaluating a 1,000-event batch ({commit} commit): {describe(timings[1:])}; "
            f"{notifications / len(timings):.0f} notification rows and {muted / len(timings):.0f} muted ones per "
            "batch  (target: ≤ 250 ms)"
        )
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO DEFAULT")


def bench_preview() -> None:
    from notifications.models import NotificationIntegration
    from policies import services
    from policies.models import Scope
    from policies.validation import MethodChoice

    scope = Scope.objects.create(name="Bench EU prod", clusters=["prod-eu-*"])
    values = {
        "scopes": [scope],
        "trigger": "critical_vulnerabilities",
        "min_severity": 4,
        "repeat_interval": 14400,
        "notification_methods": [MethodChoice(NotificationIntegration.objects.get(name="Bench hook"))],
    }
    for days in (7, 30):
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            result = services.preview_policy(values, days)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"preview over {days:>2} days of {EVENTS:,} stored events: {describe(timings)}; "
            f"{result['events_matched']:,} matched, {result['notifications']:,} notifications  (target: p50 ≤ 2 s)"
        )


def bench_event_page() -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from events.models import SecurityEvent

    client = Client()
    admin = get_user_model().objects.filter(username="bench-admin").first()
    client.force_login(admin or get_user_model().objects.create_superuser("bench-admin", "", "x"))
    ids = list(SecurityEvent.objects.filter(type="vulnerability").values_list("pk", flat=True)[:2000:100])
    client.get(f"/events/{ids[0]}/")  # warm: index compiled
    timings = []
    rows = 0
    for pk in ids:
        started = time.perf_counter()
        response = client.get(f"/events/{pk}/")
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        rows = response.content.count(b"badge-verdict-")
    print(f"event page with its decision trace ({rows} policies listed): {describe(timings)}  (target: ≤ 100 ms)")


def main() -> None:
    env = bench_env("kcs_noise_bench", broker_db=11)
    fresh = "--rebuild" in sys.argv or not database_ready(env)
    if fresh:
        recreate_database(env)
    os.environ.update(env, ALLOWED_HOSTS="testserver")
    Path(env["KCS_VAR_DIR"], "staticfiles").mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "kcs.settings"
    import django

    django.setup()
    started = time.perf_counter()
    populate_configuration()
    if fresh:
        populate_events(env)
    print(f"populated in {time.perf_counter() - started:.0f} s")
    bench_matching()
    bench_batch(env)
    bench_preview()
    bench_event_page()


if __name__ == "__main__":
    main()
