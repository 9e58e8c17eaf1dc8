"""The security event log: the page with its filters (default: the last 7 days) and ``/api/v1/audit-log/``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kcs.models import AuditEntry
from tests.factories import AuditEntryFactory, UserFactory, token_client

LOG = "/security-log/"


def entry(actor="alice", repr="Critical CVEs", days_ago=0, **fields) -> AuditEntry:
    return AuditEntryFactory(
        actor_name=actor, object_repr=repr, timestamp=timezone.now() - dt.timedelta(days=days_ago), **fields
    )


@pytest.fixture
def reader(client, db):
    client.force_login(UserFactory(username="reader", rights=["kcs.view_auditentry"]))
    return client


@pytest.mark.django_db
def test_page_shows_the_last_7_days_by_default(reader):
    entry(repr="Recent change", days_ago=1)
    entry(repr="Old change", days_ago=10)
    html = reader.get(LOG).content.decode()
    assert "Recent change" in html and "Old change" not in html
    assert '<option value="7d" selected>' in html


@pytest.mark.django_db
def test_page_filters_by_user_object_type_and_period(reader):
    entry(actor="alice", repr="Alice policy")
    entry(actor="bob", repr="Bob policy")
    entry(actor="bob", object_type="scope", repr="Bob scope", days_ago=20)
    assert "Bob policy" not in reader.get(LOG, {"actor": "alice"}).content.decode()
    html = reader.get(LOG, {"object_type": "scope", "period": "30d"}).content.decode()
    assert "Bob scope" in html and "Bob policy" not in html
    html = reader.get(LOG, {"period": "all"}).content.decode()
    assert all(name in html for name in ("Alice policy", "Bob policy", "Bob scope"))


@pytest.mark.django_db
def test_page_filters_by_date_range_including_the_last_day(reader):
    entry(repr="Two days ago", days_ago=2)
    entry(repr="Today")
    day = (timezone.localdate() - dt.timedelta(days=2)).isoformat()
    html = reader.get(LOG, {"since": day, "until": day}).content.decode()
    assert "Two days ago" in html and "Today" not in html


@pytest.mark.django_db
def test_bad_date_shows_an_error_instead_of_a_500(reader):
    response = reader.get(LOG, {"since": "yesterday"})
    assert response.status_code == 200 and "Enter a date" in response.content.decode()


@pytest.mark.django_db
def test_page_shows_changed_fields_old_and_new(reader):
    entry(changes={"name": ["Old name", "New name"], "scopes": [["Global"], ["Global", "Prod"]]})
    html = reader.get(LOG).content.decode()
    assert '<span class="old">Old name</span> → <span class="new">New name</span>' in html
    assert '<span class="new">Global, Prod</span>' in html


@pytest.mark.django_db
def test_page_escapes_logged_names(reader):
    entry(repr="<img src=x onerror=alert(1)>", changes={"name": [None, "<b>x</b>"]}, action="create")
    html = reader.get(LOG).content.decode()
    assert "<img src=x" not in html and "&lt;img src=x" in html and "&lt;b&gt;x&lt;/b&gt;" in html


@pytest.mark.django_db
def test_page_needs_the_view_right(client, plain_user):
    client.force_login(plain_user)
    assert client.get(LOG).status_code == 403


@pytest.mark.django_db
def test_policy_changes_from_screen_api_and_admin_all_reach_the_log(client, admin_user, django_user_model):
    from policies.models import Scope
    from tests.factories import NotificationIntegrationFactory

    mail = NotificationIntegrationFactory(name="Mail", kind="email")
    api = token_client(admin_user)
    created = api.post(
        "/api/v1/response-policies/",
        {
            "name": "Via API",
            "scopes": [Scope.objects.get(is_global=True).pk],
            "trigger": "malware",
            "notification_methods": [mail.pk],
        },
        format="json",
    ).json()
    client.force_login(admin_user)
    client.post(f"/policies/response/{created['id']}/toggle/", {"enabled": "0"})
    client.post("/admin/policies/responsepolicy/", {"action": "enable_policies", "_selected_action": [created["id"]]})
    html = client.get(LOG).content.decode()
    assert "Via API" in html
    sources = list(AuditEntry.objects.order_by("id").values_list("action", "source"))
    assert sources == [("create", "api"), ("disable", "ui"), ("enable", "admin")]


@pytest.mark.django_db
def test_api_lists_entries_newest_first_with_filters(admin_api):
    entry(actor="alice", repr="First", days_ago=3, ip_address="10.0.0.5")
    entry(actor="bob", repr="Second", days_ago=1, action="delete", source="api")
    data = admin_api.get("/api/v1/audit-log/").json()
    assert [e["object_repr"] for e in data["results"]] == ["Second", "First"]
    first = data["results"][1]
    assert set(first) == {
        "id",
        "timestamp",
        "category",
        "actor",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
        "source",
        "ip_address",
    }
    assert first["actor"] == "alice" and first["ip_address"] == "10.0.0.5"
    assert [e["actor"] for e in admin_api.get("/api/v1/audit-log/", {"action": "delete"}).json()["results"]] == ["bob"]
    assert admin_api.get("/api/v1/audit-log/", {"period": "24h"}).json()["count"] == 0
    since = (timezone.now() - dt.timedelta(days=2)).isoformat()
    assert admin_api.get("/api/v1/audit-log/", {"since": since}).json()["count"] == 1


@pytest.mark.django_db
def test_api_is_read_only_and_needs_the_view_right(admin_api, plain_api):
    assert admin_api.post("/api/v1/audit-log/", {}, format="json").status_code == 405
    assert plain_api.get("/api/v1/audit-log/").status_code == 403


@pytest.mark.django_db
def test_api_refuses_a_bad_date_with_400(admin_api):
    response = admin_api.get("/api/v1/audit-log/", {"until": "soon"})
    assert response.status_code == 400 and "until" in response.json()["errors"]
