"""What a person sees of security events, images, vulnerabilities and risk acceptances follows their scopes
(issue 10 §3): a person limited to the prod scope sees prod and gets 404 for staging, on the screens, in the API
and with a token; ``?scope=`` and the header's switcher narrow the lists; Global holders see everything."""

from __future__ import annotations

import pytest
from django.utils import timezone

from events.models import Extent, Image, RiskAcceptance, SecurityEvent
from kcs.globs import compile_globs
from tests.factories import (
    RiskAcceptanceFactory,
    ScopeFactory,
    UserFactory,
    finding,
    global_scope,
    ingest_at,
    token_client,
)

pytestmark = pytest.mark.django_db

RIGHTS = [
    "events.view_securityevent",
    "events.add_securityevent",
    "policies.view_responsepolicy",
    "events.view_riskacceptance",
    "events.manage_riskacceptance",
]


@pytest.fixture
def scopes(db):
    return {
        "prod": ScopeFactory(name="prod", clusters=["prod"], repositories=["shop/*"]),
        "staging": ScopeFactory(name="staging", clusters=["staging"], repositories=["lab/*"]),
    }


@pytest.fixture
def world(scopes):
    """One image scanned in each cluster: shop/web in prod (CVE-1 and CVE-2), lab/api in staging (CVE-1, CVE-3)."""
    now = timezone.now()
    ingest_at(
        now,
        [
            finding(repository="shop/web", finding_id=fid, cluster="prod", uid=f"prod-{fid}")
            for fid in ("CVE-1", "CVE-2")
        ],
    )
    ingest_at(
        now,
        [
            finding(repository="lab/api", finding_id=fid, cluster="staging", uid=f"staging-{fid}")
            for fid in ("CVE-1", "CVE-3")
        ],
    )
    events = SecurityEvent.objects.all()
    return {
        "prod": events.get(uid="prod-CVE-1"),
        "staging": events.get(uid="staging-CVE-1"),
        "prod_image": Image.objects.get(repository="shop/web"),
        "staging_image": Image.objects.get(repository="lab/api"),
    }


@pytest.fixture
def prod_person(scopes):
    return UserFactory(username="prod-person", rights=RIGHTS, scopes=[scopes["prod"]])


@pytest.fixture
def both_person(scopes):
    return UserFactory(username="both-person", rights=RIGHTS, scopes=[scopes["prod"], scopes["staging"]])


@pytest.fixture
def prod_client(client, prod_person):
    client.force_login(prod_person)
    return client


def listed_event_ids(page: str, events) -> set[int]:
    return {event.pk for event in events if f'id="event-{event.pk}"' in page}


# --- security events -----------------------------------------------------------------------------------------------
def test_a_scoped_person_lists_and_opens_only_events_of_their_scope(prod_client, world):
    page = prod_client.get("/events/").content.decode()
    assert listed_event_ids(page, [world["prod"], world["staging"]]) == {world["prod"].pk}
    assert prod_client.get(f"/events/{world['prod'].pk}/").status_code == 200
    assert prod_client.get(f"/events/{world['staging'].pk}/").status_code == 404


def test_a_scoped_token_lists_reads_and_traces_only_events_of_its_user_scope(prod_person, world):
    api = token_client(prod_person)
    listed = api.get("/api/v1/events/").json()["results"]
    assert {row["cluster"] for row in listed} == {"prod"} and len(listed) == 2
    assert api.get(f"/api/v1/events/{world['prod'].pk}/").status_code == 200
    assert api.get(f"/api/v1/events/{world['staging'].pk}/").status_code == 404
    assert api.get(f"/api/v1/events/{world['prod'].pk}/decisions/").status_code == 200
    assert api.get(f"/api/v1/events/{world['staging'].pk}/decisions/").status_code == 404


def test_cluster_scopes_compare_case_insensitively_and_by_glob(scopes):
    ingest_at(timezone.now(), [finding(cluster="PROD", repository="shop/a", uid="upper")])
    ingest_at(timezone.now(), [finding(cluster="prod-eu", repository="shop/b", uid="glob")])
    globbed = UserFactory(rights=RIGHTS, scopes=[ScopeFactory(name="prod-*", clusters=["prod-*"])])
    exact = UserFactory(rights=RIGHTS, scopes=[scopes["prod"]])
    assert {e["uid"] for e in token_client(exact).get("/api/v1/events/").json()["results"]} == {"upper"}
    assert {e["uid"] for e in token_client(globbed).get("/api/v1/events/").json()["results"]} == {"glob"}


@pytest.mark.parametrize(
    ("glob", "seen"),
    [
        ("Legac*", {"legacy", "LEGACY-2"}),  # the literal prefix compares case-insensitively, as the regex does
        ("legacy-?", {"LEGACY-2"}),
        ("team_a*", {"team_a-1"}),  # _ and % are literal in a glob, not LIKE's wildcards
        ("50%*", {"50%-off"}),
        ("*gacy", {"legacy"}),  # no literal prefix: the regex alone
        ("ümlaut*", {"Ümlaut-eu"}),  # a prefix beyond ASCII: the regex alone decides
    ],
)
def test_a_glob_with_a_literal_prefix_matches_what_the_engine_matches(glob, seen):
    clusters = ["legacy", "LEGACY-2", "legal", "team_a-1", "teamXa-2", "50%-off", "500-off", "Ümlaut-eu", "umlaut"]
    for cluster in clusters:
        ingest_at(timezone.now(), [finding(cluster=cluster, uid=cluster)])
    person = UserFactory(rights=RIGHTS, scopes=[ScopeFactory(name=glob, clusters=[glob])])
    listed = {e["uid"] for e in token_client(person).get("/api/v1/events/").json()["results"]}
    matcher = compile_globs([glob])
    assert listed == seen == {cluster for cluster in clusters if matcher.fullmatch(cluster)}


def test_the_api_scope_parameter_selects_one_of_my_scopes_and_refuses_another(both_person, scopes, world):
    api = token_client(both_person)
    assert len(api.get("/api/v1/events/").json()["results"]) == 4
    prod_only = api.get("/api/v1/events/", {"scope": scopes["prod"].pk}).json()["results"]
    assert {row["cluster"] for row in prod_only} == {"prod"}
    assert api.get(f"/api/v1/events/{world['staging'].pk}/", {"scope": scopes["prod"].pk}).status_code == 404
    other = ScopeFactory(name="elsewhere", clusters=["dev"])
    refused = api.get("/api/v1/events/", {"scope": other.pk})
    assert refused.status_code == 400 and "scope" in refused.json()["errors"]


def test_the_header_switcher_narrows_the_events_screen(client, both_person, scopes, world):
    client.force_login(both_person)
    both = [world["prod"], world["staging"]]
    assert listed_event_ids(client.get("/events/").content.decode(), both) == {e.pk for e in both}
    client.post("/scope/", {"scope": scopes["staging"].pk, "next": "/events/"})
    assert listed_event_ids(client.get("/events/").content.decode(), both) == {world["staging"].pk}
    assert client.get(f"/events/{world['prod'].pk}/").status_code == 404
    client.post("/scope/", {"scope": "", "next": "/events/"})
    assert listed_event_ids(client.get("/events/").content.decode(), both) == {e.pk for e in both}


def test_global_holders_and_system_roles_see_every_event(client, world):
    everyone = [world["prod"], world["staging"]]
    for person in (
        UserFactory(rights=RIGHTS, scopes=[global_scope()]),
        UserFactory(groups=["IS officer"]),
    ):
        client.force_login(person)
        assert listed_event_ids(client.get("/events/").content.decode(), everyone) == {e.pk for e in everyone}
        assert token_client(person).get(f"/api/v1/events/{world['staging'].pk}/").status_code == 200


def test_a_person_without_a_scope_sees_no_event(client, world):
    client.force_login(UserFactory(rights=RIGHTS))
    page = client.get("/events/").content.decode()
    assert listed_event_ids(page, [world["prod"], world["staging"]]) == set()


def test_posting_events_is_not_scoped(prod_person):
    answer = token_client(prod_person).post(
        "/api/v1/events/", finding(cluster="staging", repository="lab/x", uid="from-ci"), format="json"
    )
    assert answer.status_code == 201
    assert SecurityEvent.objects.filter(uid="from-ci", cluster="staging").exists()


# --- images and vulnerabilities ----------------------------------------------------------------------------------
def test_images_follow_the_scope_on_screen_and_in_the_api(prod_client, prod_person, world):
    page = prod_client.get("/images/").content.decode()
    assert f'href="/images/{world["prod_image"].pk}/"' in page
    assert f'href="/images/{world["staging_image"].pk}/"' not in page
    assert prod_client.get(f"/images/{world['prod_image'].pk}/").status_code == 200
    assert prod_client.get(f"/images/{world['staging_image'].pk}/").status_code == 404
    api = token_client(prod_person)
    assert [row["repository"] for row in api.get("/api/v1/images/").json()["results"]] == ["shop/web"]
    assert api.get(f"/api/v1/images/{world['staging_image'].pk}/").status_code == 404


def test_vulnerabilities_count_only_the_images_in_scope(prod_client, prod_person, world):
    page = prod_client.get("/vulnerabilities/").content.decode()
    assert "CVE-2" in page and "CVE-3" not in page
    api = token_client(prod_person)
    rows = {row["finding_id"]: row for row in api.get("/api/v1/vulnerabilities/").json()["results"]}
    assert set(rows) == {"CVE-1", "CVE-2"}
    assert rows["CVE-1"]["images"] == 1  # open in both images; one of them is in the scope
    staging_only = token_client(UserFactory(rights=RIGHTS, scopes=[global_scope()]))
    everything = {r["finding_id"]: r for r in staging_only.get("/api/v1/vulnerabilities/").json()["results"]}
    assert everything["CVE-1"]["images"] == 2
    assert api.get(f"/api/v1/vulnerabilities/{everything['CVE-3']['id']}/").status_code == 404
    assert api.get(f"/api/v1/vulnerabilities/{everything['CVE-2']['id']}/").status_code == 200


# --- risk acceptances --------------------------------------------------------------------------------------------
@pytest.fixture
def acceptances(db):
    return {
        "prod": RiskAcceptanceFactory(finding_id="CVE-1", repository="shop/web"),
        "staging": RiskAcceptanceFactory(finding_id="CVE-1", repository="lab/api"),
        "everywhere": RiskAcceptanceFactory(finding_id="CVE-9", extent=Extent.ALL, registry="", repository=""),
    }


def test_risk_acceptances_follow_the_scope_and_every_image_is_seen_by_all(prod_client, prod_person, acceptances):
    page = prod_client.get("/policies/risk-acceptance/").content.decode()
    for name, shown in (("prod", True), ("staging", False), ("everywhere", True)):
        assert (f'href="/policies/risk-acceptance/{acceptances[name].pk}/"' in page) is shown, name
    staging = acceptances["staging"].pk
    assert prod_client.get(f"/policies/risk-acceptance/{acceptances['prod'].pk}/").status_code == 200
    assert prod_client.get(f"/policies/risk-acceptance/{staging}/").status_code == 404
    assert prod_client.post(f"/policies/risk-acceptance/{staging}/cancel/").status_code == 404
    assert prod_client.post(f"/policies/risk-acceptance/{staging}/extend/", {"period": "7"}).status_code == 404
    api = token_client(prod_person)
    listed = {row["id"] for row in api.get("/api/v1/risk-acceptances/").json()["results"]}
    assert listed == {acceptances["prod"].pk, acceptances["everywhere"].pk}
    assert api.get(f"/api/v1/risk-acceptances/{staging}/").status_code == 404
    assert api.post(f"/api/v1/risk-acceptances/{staging}/cancel/").status_code == 404
    assert (
        api.post(f"/api/v1/risk-acceptances/{staging}/extend/", {"unlimited": True}, format="json").status_code == 404
    )
    assert RiskAcceptance.objects.get(pk=staging).cancelled_at is None


def test_a_cluster_only_scope_does_not_narrow_risk_acceptances(client, acceptances):
    client.force_login(UserFactory(rights=RIGHTS, scopes=[ScopeFactory(name="c", clusters=["prod"])]))
    page = client.get("/policies/risk-acceptance/").content.decode()
    assert all(f'href="/policies/risk-acceptance/{a.pk}/"' in page for a in acceptances.values())


def accept_body(**overrides) -> dict:
    return {
        "type": "vulnerability",
        "finding_id": "CVE-1",
        "extent": "repository",
        "registry": "registry.example.com",
        "repository": "shop/web",
        "reason": "Not reachable",
    } | overrides


def test_a_scoped_person_accepts_risks_only_inside_their_scopes(prod_person, world):
    api = token_client(prod_person)
    assert api.post("/api/v1/risk-acceptances/", accept_body(), format="json").status_code == 201
    outside = api.post("/api/v1/risk-acceptances/", accept_body(repository="lab/api"), format="json")
    assert outside.status_code == 400 and "repository" in outside.json()["errors"]
    everywhere = api.post("/api/v1/risk-acceptances/", accept_body(extent="all"), format="json")
    assert everywhere.status_code == 400 and "extent" in everywhere.json()["errors"]
    assert RiskAcceptance.objects.count() == 1
    holder = token_client(UserFactory(rights=RIGHTS, scopes=[global_scope()]))
    assert holder.post("/api/v1/risk-acceptances/", accept_body(extent="all"), format="json").status_code == 201


def test_bulk_accept_from_the_events_list_takes_only_events_in_scope(prod_client, world):
    form = {"extent": "image", "reason": "Known", "period": "30"}
    refused = prod_client.post("/events/accept/", {**form, "event": [world["staging"].pk]})
    assert refused.status_code == 400 and RiskAcceptance.objects.count() == 0
    everywhere = prod_client.post("/events/accept/", {**form, "extent": "all", "event": [world["prod"].pk]})
    assert everywhere.status_code == 400
    assert "only a holder of the Global scope" in everywhere.content.decode()
    accepted = prod_client.post("/events/accept/", {**form, "event": [world["prod"].pk, world["staging"].pk]})
    assert accepted.status_code == 302
    assert list(RiskAcceptance.objects.values_list("repository", flat=True)) == ["shop/web"]
