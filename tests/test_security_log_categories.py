"""The security event log's categories (tabs), its search by user and by object, token entries and refused ingest
requests (Events), on the page and through ``/api/v1/audit-log/``."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from kcs import refusals
from kcs.models import ApiToken, AuditEntry
from tests.factories import AuditEntryFactory, UserFactory, token_client, vulnerability

pytestmark = pytest.mark.django_db

LOG = "/security-log/"
API = "/api/v1/audit-log/"


@pytest.fixture
def auditor(db):
    return UserFactory(username="auditor", rights=["kcs.view_auditentry"])


@pytest.fixture
def reader(client, auditor):
    client.force_login(auditor)
    return client


def test_each_tab_shows_only_its_category(reader):
    AuditEntryFactory(object_repr="Critical CVEs", category="policies")
    AuditEntryFactory(object_type="notification integration", object_repr="SOC mail", category="integrations")
    AuditEntryFactory(object_type="API token", object_repr="ci token", category="administration")
    everything = reader.get(LOG).content.decode()
    assert all(name in everything for name in ("Critical CVEs", "SOC mail", "ci token"))
    html = reader.get(LOG, {"category": "integrations"}).content.decode()
    assert "SOC mail" in html and "Critical CVEs" not in html and "ci token" not in html
    for label in ("All", "Administration", "Alerts", "Policies", "Integrations", "Events"):
        assert f">{label}</a>" in html


def test_a_tab_keeps_the_other_filters(reader):
    html = reader.get(LOG, {"category": "policies", "period": "30d", "search": "prod"}).content.decode()
    assert 'href="?category=alerts&amp;period=30d&amp;search=prod"' in html
    assert '<option value="30d" selected>' in html
    assert 'name="search" value="prod"' in html


def test_changes_made_through_the_services_fall_in_their_category(admin_api):
    from policies.models import Scope

    response = admin_api.post("/api/v1/scopes/", {"name": "Prod", "clusters": ["prod-*"]}, format="json")
    assert response.status_code == 201, response.content
    assert AuditEntry.objects.get(object_type="scope").category == "policies"
    assert Scope.objects.filter(name="Prod").exists()


def test_search_finds_entries_by_user_or_by_object_on_the_page(reader):
    AuditEntryFactory(actor_name="alice", object_repr="Critical CVEs")
    AuditEntryFactory(actor_name="bob", object_repr="Prod clusters")
    by_user = reader.get(LOG, {"search": "ALI"}).content.decode()
    assert "Critical CVEs" in by_user and "Prod clusters" not in by_user
    by_object = reader.get(LOG, {"search": "prod clus"}).content.decode()
    assert "Prod clusters" in by_object and "Critical CVEs" not in by_object


def test_search_finds_entries_by_user_or_by_object_through_the_api(auditor):
    AuditEntryFactory(actor_name="alice", object_repr="Critical CVEs")
    AuditEntryFactory(actor_name="bob", object_repr="Prod clusters")
    api = token_client(auditor)
    assert [e["actor"] for e in api.get(API, {"search": "bob"}).json()["results"]] == ["bob"]
    assert [e["object_repr"] for e in api.get(API, {"search": "critical"}).json()["results"]] == ["Critical CVEs"]
    assert api.get(API, {"search": "nobody-like-this"}).json()["count"] == 0


def test_an_unknown_category_is_a_400_naming_the_field(auditor):
    response = token_client(auditor).get(API, {"category": "everything"})
    assert response.status_code == 400
    assert "category" in response.json()["errors"]


def test_an_unknown_category_on_the_page_says_so_instead_of_a_500(reader):
    response = reader.get(LOG, {"category": "everything"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_creating_and_revoking_a_token_on_the_screen_is_logged(client):
    alice = UserFactory(username="alice")
    client.force_login(alice)
    client.post("/tokens/", {"name": "trivy in CI"}, REMOTE_ADDR="203.0.113.7")
    token = ApiToken.objects.get(name="trivy in CI")
    client.post(f"/tokens/{token.pk}/revoke/", REMOTE_ADDR="203.0.113.7")
    created, revoked = AuditEntry.objects.filter(object_type="API token").order_by("id")
    assert (created.action, created.actor_name, created.ip_address) == ("create", "alice", "203.0.113.7")
    assert created.changes["name"] == [None, "trivy in CI"] and created.category == "administration"
    assert created.changes["key prefix"] == [None, token.key_prefix]
    assert (revoked.action, revoked.object_repr) == ("revoke", str(token))
    client.force_login(UserFactory(username="auditor", rights=["kcs.view_auditentry"]))
    html = client.get(LOG, {"category": "administration", "search": "trivy"}).content.decode()
    assert "Revoked" in html and "Created" in html


def test_a_token_made_by_the_command_or_revoked_in_the_admin_is_logged(client, admin_user, capsys):
    call_command("create_api_token", admin_user.username, "--name", "ci")
    capsys.readouterr()
    token = ApiToken.objects.get(name="ci")
    client.force_login(admin_user)
    client.post(f"/admin/kcs/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    entries = list(AuditEntry.objects.filter(object_type="API token").order_by("id").values_list("action", "source"))
    assert entries == [("create", "system"), ("revoke", "admin")]


def post_event(api, address="198.51.100.66", body=None):
    return api.post(
        "/api/v1/events/", body if body is not None else vulnerability(), format="json", REMOTE_ADDR=address
    )


def test_refused_ingest_requests_are_logged_once_per_address_and_reason_with_a_count(auditor):
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token kcs_not-a-real-key")
    for _ in range(3):
        assert post_event(bad).status_code == 401
    assert bad.post("/api/v1/ingest/trivy/", b"{}", content_type="application/json").status_code == 401
    scanner = token_client(UserFactory(username="scanner", groups=["Scanner"]))
    assert post_event(scanner, body={"type": "vulnerability"}).status_code == 400

    refused = {(e.object_repr, e.object_id, e.ip_address): e for e in AuditEntry.objects.filter(category="events")}
    assert len(refused) == 3
    tokenless = refused[("/api/v1/events/", "401", "198.51.100.66")]
    assert tokenless.changes["requests"] == 3 and tokenless.changes["reason"] == "Invalid token."
    assert tokenless.actor_name == "anonymous" and tokenless.action == "ingest_refused"
    invalid = refused[("/api/v1/events/", "400", "198.51.100.66")]
    assert invalid.actor_name == "scanner" and invalid.changes["requests"] == 1
    assert token_client(auditor).get(API, {"category": "events"}).json()["count"] == 3


def test_a_flood_from_many_addresses_adds_a_bounded_number_of_entries(monkeypatch):
    monkeypatch.setattr(refusals, "ENTRIES_PER_WINDOW", 3)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token kcs_not-a-real-key")
    for number in range(20):
        post_event(bad, address=f"198.51.100.{number}")
    entries = AuditEntry.objects.filter(category="events")
    assert entries.count() == 4
    other = entries.get(object_repr="other addresses")
    assert other.changes["requests"] == 17


def test_accepted_ingest_requests_are_not_logged():
    scanner = token_client(UserFactory(username="scanner", groups=["Scanner"]))
    assert post_event(scanner).status_code == 201
    assert not AuditEntry.objects.filter(category="events").exists()
