"""The Overview follows the reader's active scopes (issue 10 §3): events, images and findings counted in their
scopes (each number still equals the list it links to), notifications of the policies they see, and the same
number of queries however much is stored."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import NotificationStatus
from tests.factories import (
    NotificationFactory,
    ScopeFactory,
    UserFactory,
    finding,
    global_scope,
    ingest_at,
    make_integration,
    make_policy,
)
from tests.overview_pages import figures_of, rows_behind

pytestmark = pytest.mark.django_db

RIGHTS = ["events.view_securityevent", "notifications.view_notificationintegration"]


@pytest.fixture
def scopes(db):
    return {
        "prod": ScopeFactory(name="prod", clusters=["prod"]),
        "staging": ScopeFactory(name="staging", clusters=["staging"]),
    }


def scan(age: timedelta, cluster: str, repository: str, findings: list[tuple[str, str]]) -> None:
    ingest_at(
        timezone.now() - age,
        [
            finding(repository=repository, finding_id=fid, severity=sev, cluster=cluster, uid=f"{repository}-{fid}")
            for fid, sev in findings
        ],
    )


@pytest.fixture
def activity(scopes):
    """prod: web (3 findings, 1 critical) and api; staging: lab (2 criticals); notifications of a policy on each."""
    scan(timedelta(minutes=5), "prod", "web", [("CVE-1", "critical"), ("CVE-2", "high"), ("CVE-3", "low")])
    scan(timedelta(hours=3), "prod", "api", [("CVE-2", "high")])
    scan(timedelta(hours=2), "staging", "lab", [("CVE-8", "critical"), ("CVE-9", "critical")])
    hook = make_integration("webhook", "Hook")
    prod_policy = make_policy("Prod criticals", [hook], scopes=[scopes["prod"]])
    staging_policy = make_policy("Staging criticals", [hook], scopes=[scopes["staging"]])
    for policy, status, count in (
        (prod_policy, NotificationStatus.SENT, 2),
        (staging_policy, NotificationStatus.FAILED, 3),
    ):
        for _ in range(count):
            NotificationFactory(policy=policy, policy_name=policy.name, integration=hook, status=status, events=[])


@pytest.fixture
def prod_reader(client, scopes):
    client.force_login(UserFactory(username="prod-reader", rights=RIGHTS, scopes=[scopes["prod"]]))
    return client


def test_a_scoped_reader_sees_the_figures_of_their_scope(prod_reader, activity):
    page = prod_reader.get("/overview/").content.decode()
    assert "<strong>4</strong> events" in page  # web 3 + api 1; staging's 2 are not counted
    assert "<strong>2</strong> notifications" in page  # the prod policy's; the staging policy's failures are not
    images = page[page.index('id="images-heading"') : page.index('id="findings-heading"')]
    assert "example.com/web" in images and "example.com/lab" not in images
    findings = page[page.index('id="findings-heading"') : page.index('id="failed-heading"')]
    assert "CVE-2" in findings and "CVE-8" not in findings
    failed = page[page.index('id="failed-heading"') : page.index('id="policies-heading"')]
    assert "Hook" not in failed  # only the staging policy's deliveries failed
    policies = page[page.index('id="policies-heading"') :]
    assert "Prod criticals" in policies and "Staging criticals" not in policies


@pytest.mark.parametrize("period", ["24h", "30d"])
def test_every_event_and_image_number_of_a_scoped_reader_equals_the_list_it_links_to(prod_reader, activity, period):
    figures = [
        figure
        for figure in figures_of(prod_reader.get(f"/overview/?period={period}").content.decode())
        if figure[1].startswith(("/events/", "/images/"))
    ]
    assert len(figures) > 10
    for number, href, text in figures:
        assert rows_behind(prod_reader, href) == number, f"{text!r} links to {href}"


def test_a_global_holder_sees_every_figure(client, activity):
    client.force_login(UserFactory(rights=RIGHTS, scopes=[global_scope()]))
    page = client.get("/overview/").content.decode()
    assert "<strong>6</strong> events" in page and "<strong>5</strong> notifications" in page


def test_the_switcher_narrows_the_overview(client, scopes, activity):
    client.force_login(UserFactory(rights=RIGHTS, scopes=[scopes["prod"], scopes["staging"]]))
    page = client.get("/overview/").content.decode()
    assert "<strong>6</strong> events" in page
    notifications = re.search(r"<strong>(\d+)</strong> notifications", page).group(1)
    client.post("/scope/", {"scope": scopes["staging"].pk, "next": "/overview/"})
    page = client.get("/overview/").content.decode()
    # Events follow the active scope; notifications follow the policies the person sees, which KCS's rules take
    # from every scope they hold (kcs.visibility.policy_q), so the switcher leaves them as they were.
    assert "<strong>2</strong> events" in page and f"<strong>{notifications}</strong> notifications" in page


def test_a_scoped_overview_costs_the_same_queries_whatever_is_stored(prod_reader, scopes, activity):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert prod_reader.get("/overview/?period=7d").status_code == 200
        return len(captured)

    before = queries()
    for n in range(5):
        scan(timedelta(hours=n + 1), "prod", f"more-{n}", [(f"CVE-{100 + n}", "critical"), ("CVE-1", "high")])
    policy = make_policy("Another prod policy", [make_integration("email", "Mail")], scopes=[scopes["prod"]])
    NotificationFactory(policy=policy, policy_name=policy.name, status=NotificationStatus.FAILED, events=[])
    assert queries() == before
