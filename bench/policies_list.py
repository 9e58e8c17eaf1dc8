"""Server time of the Response policies page with 10,000 policies (target: <= 50 ms), list and search.

Builds a PostgreSQL database of its own (``kcs_pol_bench``) with 10,000 policies (2 scopes and 2 outputs each),
then renders the page in-process through the whole Django stack (middleware, view, template; the test client
without its template instrumentation, so as in production) and prints the time
and the number of SQL queries for: the first page, a later page, each sort, and searches by part of a name.

    .venv/bin/python bench/policies_list.py            (needs PostgreSQL on 127.0.0.1)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, describe, recreate_database  # noqa: E402

POLICIES = 10_000
ROUNDS = 30


def populate() -> None:
    from django.contrib.auth import get_user_model

    from notifications.models import NotificationIntegration
    from policies.models import NotificationMethod, ResponsePolicy, Scope, Trigger

    users = [get_user_model().objects.create_user(f"officer{n}") for n in range(5)]
    outputs = NotificationIntegration.objects.bulk_create(
        NotificationIntegration(name=f"Output {n}", kind=("email", "telegram", "webhook")[n % 3]) for n in range(20)
    )
    scopes = [Scope.objects.get(is_global=True)] + Scope.objects.bulk_create(
        Scope(name=f"Scope {n}", clusters=[f"prod-{n}-*"]) for n in range(50)
    )
    triggers = list(Trigger)
    policies = ResponsePolicy.objects.bulk_create(
        ResponsePolicy(
            name=f"{triggers[n % 7].label} policy {n:05d}",
            trigger=triggers[n % 7],
            enabled=n % 5 != 0,
            created_by=users[n % 5],
        )
        for n in range(POLICIES)
    )
    through = ResponsePolicy.scopes.through
    through.objects.bulk_create(
        through(responsepolicy_id=p.pk, scope_id=scopes[(i + k * 7) % len(scopes)].pk)
        for i, p in enumerate(policies)
        for k in range(2)
    )
    NotificationMethod.objects.bulk_create(
        NotificationMethod(policy=p, integration=outputs[(i + k * 3) % len(outputs)], position=k)
        for i, p in enumerate(policies)
        for k in range(2)
    )


class SqlMeter:
    """Counts the queries of a request and the time spent in the database (an execute wrapper)."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


def timed(client, params: dict) -> tuple[list[float], float, int, int]:
    from django.db import connection

    timings, sql_ms = [], []
    for _ in range(ROUNDS):
        meter = SqlMeter()
        with connection.execute_wrapper(meter):
            started = time.perf_counter()
            response = client.get("/policies/response/", params)
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        sql_ms.append(meter.seconds * 1000)
    return timings, sum(sql_ms) / len(sql_ms), meter.count, response.content.count(b'class="policy-row')


def main() -> None:
    env = bench_env("kcs_pol_bench", broker_db=3)
    recreate_database(env)
    # The test client without setup_test_environment(): that would instrument every template render.
    os.environ.update(env, ALLOWED_HOSTS="testserver")
    Path(env["KCS_VAR_DIR"], "staticfiles").mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "kcs.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    started = time.perf_counter()
    populate()
    print(f"created {POLICIES} policies in {time.perf_counter() - started:.1f} s")
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("bench-admin", "", "x"))
    cases = [
        ("first page (sorted by name)", {}),
        ("page 200", {"page": 200}),
        ("sorted by status", {"sort": "status"}),
        ("sorted by creator", {"sort": "created_by"}),
        ("sorted by last modified", {"sort": "-updated"}),
        ("search 'malware' (1,428 hits)", {"q": "malware"}),
        ("search 'policy 0042' (10 hits)", {"q": "policy 0042"}),
        ("search 'no such policy' (0 hits)", {"q": "no such policy"}),
    ]
    for label, params in cases:
        timings, sql_ms, queries, rows = timed(client, params)
        print(f"{label:<34} {queries:>2} queries ({sql_ms:4.1f} ms), {rows:>2} rows: {describe(timings)}")
    print("target: <= 50 ms server time; query count constant in the number of policies (see tests)")


if __name__ == "__main__":
    main()
