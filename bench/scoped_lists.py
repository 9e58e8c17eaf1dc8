"""Server time of the lists for a person limited to some scopes (issue 10 §3): the Events list's first page, on the
screen and in the API, with 1,000,000 stored events (target: p50 <= 100 ms), and the Response policies list of a
scoped person with 10,000 policies (target: p50 <= 60 ms, the same number of queries whatever the count).

Builds a PostgreSQL database of its own (``kcs_scopeev_bench``) and fills it with SQL (INSERT … SELECT
generate_series): 1,000,000 events in 10,000 batches of 100, each batch from one of 20 clusters (``prod``,
``prod-eu``, ``prod-us``, ``staging``, ``dev-00``…), plus the 1,000 oldest events from a cluster nobody writes to
any more (``legacy``: the worst case for a newest-first list, whose first page lies at the far end of the table).
Each list is rendered in-process through the whole Django stack (the test client without template instrumentation,
as in production; the API with a token) for people holding one scope each:

- ``prod`` (clusters ``prod``): one event in twenty;
- ``prod-*`` (clusters ``prod-*``, a glob): three clusters of twenty;
- ``legacy`` (clusters ``legacy``): 1,000 events, all older than every other one;
- ``legac*`` (a glob matching only ``legacy``): a rare glob, whose literal prefix the cluster index answers;
- an administrator (unrestricted), for comparison.

For each it prints p50/p90 and the number of SQL queries, then the EXPLAIN (ANALYZE) of the list's query and the
indexes it uses.

    .venv/bin/python bench/scoped_lists.py [--events 1000000] [--rounds 30] [--reuse] [--skip-policies]

``--reuse`` measures the database a previous run left, without building it again.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SqlMeter, bench_env, describe, fresh_django  # noqa: E402

EVENTS_PER_BATCH = 100
LEGACY_EVENTS = 1000
CLUSTERS = ["prod", "prod-eu", "prod-us", "staging", "qa", *(f"dev-{n:02d}" for n in range(15))]
SCOPES = {  # scope name → its cluster patterns
    "prod": ["prod"],
    "prod-*": ["prod-*"],
    "legacy": ["legacy"],
    "legac*": ["legac*"],
}
EVENT_RIGHTS = ["events.view_securityevent", "policies.view_responsepolicy"]
POLICY_COUNTS = (1_000, 10_000)


def populate_events(events: int) -> None:
    """``events`` events in batches of 100; the oldest :data:`LEGACY_EVENTS` in cluster ``legacy``."""
    from django.db import connection

    batches = max(1, events // EVENTS_PER_BATCH)
    params = {"per": EVENTS_PER_BATCH, "batches": batches, "clusters": CLUSTERS, "legacy": LEGACY_EVENTS}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_eventbatch (id, source, received_at, received, created, evaluated_at) "
            "SELECT md5('batch' || b)::uuid, 'trivy', "
            "now() - interval '30 days' + b * (interval '30 days' / %(batches)s), %(per)s, %(per)s, now() "
            "FROM generate_series(0, %(batches)s - 1) AS b",
            params,
        )
        cursor.execute(
            "INSERT INTO events_securityevent (type, severity, title, description, source, registry, repository, "
            "tag, digest, cluster, namespace, pod, container, node, finding_id, package, installed_version, "
            "fixed_version, cvss, details, fingerprint, batch_id, occurred_at, received_at) "
            "SELECT 'vulnerability', (i * 7) %% 6, 'CVE-2026-' || i %% 3000 || ': overflow', '', 'trivy', "
            "'registry.example.com', 'team-' || b %% 25 || '/service-' || b %% 500, '1.' || b %% 7, "
            "'sha256:' || md5('img' || b %% 500), "
            "CASE WHEN i < %(legacy)s THEN 'legacy' "
            "     ELSE (%(clusters)s::text[])[1 + b %% cardinality(%(clusters)s::text[])] END, "
            "'shop', 'pod-' || b %% 500, '', '', 'CVE-2026-' || i %% 3000, 'lib' || i %% 300, '1.0.1', '1.1.0', "
            "(i %% 100) / 10.0, '{}'::jsonb, md5(i::text) || md5('f' || i), md5('batch' || b)::uuid, "
            "now() - interval '30 days' + b * (interval '30 days' / %(batches)s), "
            "now() - interval '30 days' + b * (interval '30 days' / %(batches)s) "
            "FROM (SELECT i, i / %(per)s AS b FROM generate_series(0, %(batches)s * %(per)s - 1) AS i) AS e",
            params,
        )
        cursor.execute("ANALYZE")


def scoped_person(username: str, scope_name: str | None, patterns: list[str] | None, rights: list[str]):
    """A person in a custom role holding ``rights`` and one scope (``scope_name`` with cluster ``patterns``); with
    ``scope_name`` None, an administrator (every scope)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from kcs.models import Role
    from policies.models import Scope

    users = get_user_model().objects
    if scope_name is None:
        return users.filter(username=username).first() or users.create_superuser(username, "", "x")
    existing = users.filter(username=username).first()
    if existing is not None:
        return existing
    scope, _ = Scope.objects.get_or_create(name=scope_name, defaults={"clusters": patterns})
    group = Group.objects.create(name=f"Role of {username}")
    for right in rights:
        app_label, codename = right.split(".", 1)
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    role = Role.objects.create(group=group, role_id=f"B-{username}"[:32])
    role.scopes.set([scope])
    person = users.create_user(username, "", "x")
    person.groups.add(group)
    return person


def timed(get, rounds: int) -> tuple[list[float], float, int, object]:
    """``rounds`` calls of ``get()``: their times (ms), the mean database time (ms), the queries of the last one
    and its response."""
    from django.db import connection

    timings, sql_ms = [], []
    get()  # warm-up: first-use imports and caches
    for _ in range(rounds):
        meter = SqlMeter()
        with connection.execute_wrapper(meter):
            started = time.perf_counter()
            response = get()
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.content[:300])
        sql_ms.append(meter.seconds * 1000)
    return timings, sum(sql_ms) / len(sql_ms), meter.count, response


def explain(user) -> str:
    """EXPLAIN ANALYZE of the Events list's page query as ``user`` sees it (all their scopes active)."""
    from events.models import SecurityEvent
    from kcs.visibility import visibility_for

    page = SecurityEvent.objects.filter(visibility_for(user).resource_q()).order_by("-id")[:51]
    return page.explain(analyze=True)


def events_figures(rounds: int) -> None:
    from django.test import Client

    from kcs.models import ApiToken

    people = [("unrestricted (administrator)", scoped_person("bench-admin", None, None, []))]
    people += [
        (f"scope {name} (clusters {patterns})", scoped_person(f"bench-{name}", name, patterns, EVENT_RIGHTS))
        for name, patterns in SCOPES.items()
    ]
    for label, person in people:
        screen = Client()
        screen.force_login(person)
        _, key = ApiToken.issue(person, "bench")
        api = Client(HTTP_AUTHORIZATION=f"Token {key}")
        print(f"\n{label}")
        for what, get, count in (
            ("screen /events/", lambda c=screen: c.get("/events/"), b'<tr id="event-'),
            ("API /api/v1/events/", lambda c=api: c.get("/api/v1/events/"), None),
        ):
            timings, sql_ms, queries, response = timed(get, rounds)
            rows = response.content.count(count) if count else len(response.json()["results"])
            print(f"  {what:<22} {queries:>2} queries ({sql_ms:5.1f} ms in SQL), {rows:>2} rows: {describe(timings)}")
        plan = explain(person)
        indexes = sorted(set(re.findall(r"[Ii]ndex(?: Only)? Scan(?: Backward)? (?:using|on) (\w+)", plan)))
        print(f"  list query uses: {', '.join(indexes) or 'no index'}")
        print("  " + plan.replace("\n", "\n  "))


# --- the policies list of a scoped person (the policies helper's figure) ---------------------------------------
def populate_policies(total: int) -> None:
    """Add response policies until there are ``total``: each with 2 of 50 cluster scopes (``prod-N-*``) or Global,
    by one of 5 authors, with 2 of 20 outputs (as bench/policies_list.py builds them)."""
    from django.contrib.auth import get_user_model

    from notifications.models import NotificationIntegration
    from policies.models import NotificationMethod, ResponsePolicy, Scope, Trigger

    users = [get_user_model().objects.get_or_create(username=f"officer{n}")[0] for n in range(5)]
    outputs = list(NotificationIntegration.objects.order_by("pk")) or NotificationIntegration.objects.bulk_create(
        NotificationIntegration(name=f"Output {n}", kind=("email", "telegram", "webhook")[n % 3]) for n in range(20)
    )
    scopes = [Scope.objects.get(is_global=True)] + [
        Scope.objects.get_or_create(name=f"Policy scope {n}", defaults={"clusters": [f"prod-{n}-*"]})[0]
        for n in range(50)
    ]
    start = ResponsePolicy.objects.count()
    triggers = list(Trigger)
    policies = ResponsePolicy.objects.bulk_create(
        ResponsePolicy(
            name=f"{triggers[n % 7].label} policy {n:05d}",
            trigger=triggers[n % 7],
            enabled=n % 5 != 0,
            created_by=users[n % 5],
        )
        for n in range(start, total)
    )
    through = ResponsePolicy.scopes.through
    through.objects.bulk_create(
        through(responsepolicy_id=p.pk, scope_id=scopes[(start + i + k * 7) % len(scopes)].pk)
        for i, p in enumerate(policies)
        for k in range(2)
    )
    NotificationMethod.objects.bulk_create(
        NotificationMethod(policy=p, integration=outputs[(start + i + k * 3) % len(outputs)], position=k)
        for i, p in enumerate(policies)
        for k in range(2)
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def policies_figures(rounds: int) -> None:
    """The Response policies list (first page) of a person holding one of the policies' scopes, with 1,000 and then
    10,000 policies: time and number of queries (the same whatever the count)."""
    from django.test import Client

    from policies.models import ResponsePolicy

    populate_policies(POLICY_COUNTS[0])
    person = scoped_person("bench-policy-reader", "Policy scope 3", ["prod-3-*"], ["policies.view_responsepolicy"])
    client = Client()
    client.force_login(person)
    print("\nResponse policies list /policies/response/ of a person holding one scope (prod-3-*)")
    for total in POLICY_COUNTS:
        populate_policies(total)
        total = ResponsePolicy.objects.count()  # more than asked when --reuse finds a previous run's
        timings, sql_ms, queries, response = timed(lambda: client.get("/policies/response/"), rounds)
        rows = response.content.count(b'class="policy-row')
        print(
            f"  {total:>6} policies: {queries:>2} queries ({sql_ms:5.1f} ms in SQL), {rows:>2} rows: {describe(timings)}"
        )
    print("  target: p50 <= 60 ms; the same number of queries at every count")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure the database a previous run left")
    parser.add_argument("--skip-policies", action="store_true", help="only the events lists")
    args = parser.parse_args()
    env = bench_env("kcs_scopeev_bench", broker_db=13)
    # The test client without setup_test_environment() (that would instrument every template render).
    env["ALLOWED_HOSTS"] = "testserver"
    Path(env["KCS_VAR_DIR"], "staticfiles").mkdir(parents=True, exist_ok=True)
    if args.reuse:
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
        import django

        django.setup()
    else:
        fresh_django(env)
        started = time.perf_counter()
        populate_events(args.events)
        print(f"stored {args.events:,} events in {time.perf_counter() - started:.0f} s")
    events_figures(args.rounds)
    print("\ntarget: Events list first page p50 <= 100 ms (screen and API) for a person limited to one scope")
    if not args.skip_policies:
        policies_figures(args.rounds)


if __name__ == "__main__":
    main()
