"""Server time of the Response policies page with 10,000 policies (target: <= 50 ms; <= 60 ms for a person
limited to some scopes), list and search.

Builds a PostgreSQL database of its own (``kcs_pol_bench``) with 10,000 policies (2 scopes and 2 outputs each),
then renders the page in-process through the whole Django stack (middleware, view, template; the test client
without its template instrumentation, so as in production) and prints the time
and the number of SQL queries for: the first page, a later page, each sort, and searches by part of a name —
first as an administrator (everything), then as an IS officer limited to 3 of the 50 scopes, who sees the policies
of their role's authors (rule a: 2,000) and those using one of their scopes (rules b, c), with the plans
PostgreSQL chose for that person's page and count (EXPLAIN ANALYZE: which indexes, how long).

    .venv/bin/python bench/policies_list.py            (needs PostgreSQL on 127.0.0.1)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SqlMeter, bench_env, describe, recreate_database  # noqa: E402

POLICIES = 10_000
ROUNDS = 30
WARM_UP = 5  # requests per case not counted: a running server has its caches and connections warm


def populate() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from notifications.models import NotificationIntegration
    from policies.models import NotificationMethod, ResponsePolicy, Scope, Trigger

    users = [get_user_model().objects.create_user(f"officer{n}") for n in range(5)]
    users[0].groups.add(Group.objects.get(name="IS officer"))  # the scoped person's role: rule (a) for its policies
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


def timed(client, params: dict) -> tuple[list[float], float, int, int]:
    from django.db import connection

    timings, sql_ms = [], []
    for _ in range(WARM_UP):
        client.get("/policies/response/", params)
    for _ in range(ROUNDS):
        meter = SqlMeter()
        with connection.execute_wrapper(meter):
            started = time.perf_counter()
            response = client.get("/policies/response/", params)
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        sql_ms.append(meter.seconds * 1000)
    return timings, sum(sql_ms) / len(sql_ms), meter.count, response.content.count(b'class="policy-row')


CASES = [
    ("first page (sorted by name)", {}),
    ("page 200", {"page": 200}),
    ("sorted by status", {"sort": "status"}),
    ("sorted by creator", {"sort": "created_by"}),
    ("sorted by last modified", {"sort": "-updated"}),
    ("search 'malware' (1,428 hits)", {"q": "malware"}),
    ("search 'policy 0042' (10 hits)", {"q": "policy 0042"}),
    ("search 'no such policy' (0 hits)", {"q": "no such policy"}),
]
SCOPED_CASES = [
    ("scoped: first page", {}),
    ("scoped: page 20", {"page": 20}),
    ("scoped: sorted by status", {"sort": "status"}),
    ("scoped: search 'malware'", {"q": "malware"}),
    ("scoped: search 'no such policy'", {"q": "no such policy"}),
]


def run(client, cases) -> None:
    for label, params in cases:
        timings, sql_ms, queries, rows = timed(client, params)
        print(f"{label:<34} {queries:>2} queries ({sql_ms:4.1f} ms), {rows:>2} rows: {describe(timings)}")


def scoped_person():
    """An IS officer limited to 3 of the 50 scopes (the per-person limit), in the role of ``officer0``."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from kcs.users import profile_of
    from policies.models import Scope

    person = get_user_model().objects.create_user("bench-scoped")
    person.groups.add(Group.objects.get(name="IS officer"))
    profile_of(person).scopes.set(Scope.objects.filter(name__in=["Scope 3", "Scope 17", "Scope 40"]))
    return person


def explain(person) -> None:
    """The plans of the scoped person's page and count, as the list view builds them."""
    from django.db import connection

    from kcs.visibility import visibility_for
    from policies.queries import sort_policies, visible_policies

    queryset, _ = sort_policies(visible_policies(visibility_for(person)), "name")
    for label, sql, params in (
        ("page", *queryset[:25].query.sql_with_params()),
        ("count", *queryset.order_by().values("pk").query.sql_with_params()),
    ):
        if label == "count":
            sql = f"SELECT COUNT(*) FROM ({sql}) AS visible"
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
            print(f"--- EXPLAIN ANALYZE, scoped {label}:")
            for (line,) in cursor.fetchall():
                print("   ", line)


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
    run(client, CASES)
    print("target: <= 50 ms server time; query count constant in the number of policies (see tests)")
    person = scoped_person()
    client.force_login(person)
    from kcs.visibility import visibility_for
    from policies.queries import visible_policies

    visible = visible_policies(visibility_for(person))
    print(
        f"scoped person: {visible.count()} of {POLICIES} policies visible, {visible.filter(editable=True).count()} editable"
    )
    run(client, SCOPED_CASES)
    print("target (scoped): <= 60 ms server time")
    explain(person)


if __name__ == "__main__":
    main()
