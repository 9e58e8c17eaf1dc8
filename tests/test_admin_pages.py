"""The Django admin: every model's list shows its objects and searches them; the security events, batches, the
security event log and API tokens show what they hold, and what is immutable cannot be changed there.

(The policy, scope and integration admin screens have their own tests beside their apps.)
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import reverse

from events import services
from events.models import EventType, Severity
from kcs.models import ApiToken
from tests.factories import (
    ApiTokenFactory,
    AuditEntryFactory,
    NotificationFactory,
    ResponsePolicyFactory,
    RiskAcceptanceFactory,
    ScopeFactory,
    SecurityEventFactory,
    SilenceFactory,
    UserFactory,
    vulnerability,
)

pytestmark = pytest.mark.django_db


class _ResultTable(HTMLParser):
    """The rows of the change list's ``#result_list`` table, each a list of its cells' text."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_table = self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("id", "result_list") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self._in_body and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._in_table = self._in_body = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    table = _ResultTable()
    table.feed(response.content.decode())
    return table.rows


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.fixture
def one_of_each(admin_user):
    """At least one stored object of every model the admin shows."""
    ApiTokenFactory(user=admin_user, name="trivy in CI")
    AuditEntryFactory()
    ScopeFactory(name="Production", clusters=["prod-*"])
    ResponsePolicyFactory(name="Critical CVEs")
    NotificationFactory(policy_name="Critical CVEs")
    SilenceFactory(comment="Base image rebuild pending")
    RiskAcceptanceFactory()


def test_every_model_list_shows_each_object_and_search_narrows_it(admin_client, one_of_each):
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        objects = list(model._default_manager.all())
        assert objects, f"nothing stored to show for {model.__name__}"
        page = admin_client.get(url).content.decode()
        for obj in objects:
            assert change_url(obj) in page, (url, obj)
        if not model_admin.search_fields:
            continue
        field = model_admin.search_fields[0]
        term = str(model._default_manager.filter(pk=objects[0].pk).values_list(field, flat=True)[0])
        found = admin_client.get(url, {"q": term}).content.decode()
        assert change_url(objects[0]) in found, (url, field, term)
        nothing = admin_client.get(url, {"q": "no-such-thing-anywhere"}).content.decode()
        assert not any(change_url(obj) in nothing for obj in objects), url


def test_security_event_list_shows_severity_type_finding_and_resource_and_filters_by_severity(admin_client):
    SecurityEventFactory(title="openssl: buffer overflow", finding_id="CVE-2024-1000", repository="shop/web")
    SecurityEventFactory(
        type=EventType.MISCONFIGURATION,
        severity=Severity.LOW,
        title="Root file system is writable",
        finding_id="KSV014",
        cluster="prod-1",
    )
    url = "/admin/events/securityevent/"
    listed = {tuple(row[2:9]) for row in rows(admin_client.get(url))}  # after the id and the time received
    assert listed == {
        ("Critical", "Vulnerability", "openssl: buffer overflow", "trivy", "CVE-2024-1000", "shop/web", "-"),
        ("Low", "Misconfiguration", "Root file system is writable", "trivy", "KSV014", "shop/web", "prod-1"),
    }
    critical = rows(admin_client.get(url, {"severity__exact": Severity.CRITICAL}))
    assert [row[4] for row in critical] == ["openssl: buffer overflow"]


def test_security_event_page_shows_the_finding_read_only(admin_client):
    event = SecurityEventFactory(package="libssl3", installed_version="3.0.7-r0", fixed_version="3.0.8-r0")
    page = admin_client.get(change_url(event)).content.decode()
    for value in ("libssl3", "3.0.7-r0", "3.0.8-r0", event.finding_id, event.digest, "registry.example.com"):
        assert value in page
    assert 'name="title"' not in page and 'name="_save"' not in page


def test_security_events_are_read_only_in_the_admin(admin_client):
    event_id = services.ingest([vulnerability()], source="api").ids[0]
    assert admin_client.get("/admin/events/securityevent/add/").status_code == 403
    page = admin_client.get(f"/admin/events/securityevent/{event_id}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(f"/admin/events/securityevent/{event_id}/delete/", {"post": "yes"}).status_code == 403


def test_batch_list_shows_source_counts_and_who_sent_it(admin_client):
    scanner = UserFactory(username="gitlab-ci")
    result = services.ingest([vulnerability(), vulnerability(finding_id="CVE-2024-2")], source="api", user=scanner)
    (row,) = rows(admin_client.get("/admin/events/eventbatch/"))
    # Not evaluated yet: the evaluation runs after the commit, which a test's transaction never reaches.
    assert row[0] == str(result.batch_id) and row[2:] == ["api", "2", "2", "gitlab-ci", "-"]


def test_security_event_log_list_shows_who_changed_what_from_where(admin_client):
    AuditEntryFactory(actor_name="alice", action="disable", object_repr="Critical CVEs", ip_address="10.0.0.5")
    AuditEntryFactory(actor_name="bob", action="create", object_type="scope", object_repr="Production", source="api")
    url = "/admin/kcs/auditentry/"
    listed = {tuple(row[1:]) for row in rows(admin_client.get(url))}  # after the time
    assert listed == {
        ("alice", "Disabled", "response policy", "Critical CVEs", "Screen", "10.0.0.5"),
        ("bob", "Created", "scope", "Production", "API", "-"),
    }
    assert [row[1] for row in rows(admin_client.get(url, {"action__exact": "create"}))] == ["bob"]


def test_security_event_log_entries_cannot_be_added_changed_or_deleted(admin_client):
    entry = AuditEntryFactory(changes={"enabled": [True, False]})
    page = admin_client.get(change_url(entry)).content.decode()
    assert "Critical CVEs" in page and "enabled" in page and 'name="_save"' not in page
    assert admin_client.get("/admin/kcs/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/kcs/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post(change_url(entry), {"object_repr": "forged"}).status_code == 403
    entry.refresh_from_db()
    assert entry.object_repr == "Critical CVEs"


def test_token_list_shows_name_owner_and_prefix_but_never_the_key(admin_client):
    token = ApiTokenFactory(user=UserFactory(username="harbor"), name="Harbor webhook")
    (row,) = rows(admin_client.get("/admin/kcs/apitoken/"))
    assert row[1:4]  # after the selection box == ["Harbor webhook", "harbor", token.key_prefix]
    for page in (admin_client.get("/admin/kcs/apitoken/"), admin_client.get(change_url(token))):
        assert token.key not in page.content.decode() and token.key_hash not in page.content.decode()


def test_token_can_be_renamed_in_the_admin_but_not_added(admin_client):
    token = ApiTokenFactory(name="old name")
    answer = admin_client.post(change_url(token), {"name": "trivy in CI", "expires_at_0": "", "expires_at_1": ""})
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    renamed = ApiToken.objects.get(pk=token.pk)
    assert renamed.name == "trivy in CI" and renamed.key_hash == token.key_hash and renamed.user == token.user
    assert admin_client.get("/admin/kcs/apitoken/add/").status_code == 403
