"""The Django admin for policies and scopes: same rules, enable/disable actions, every change logged."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kcs.models import AuditEntry
from policies.models import ResponsePolicy, Scope
from tests.factories import ScopeFactory, UserFactory
from tests.scoping import limit_to

ADMIN = "/admin/policies/responsepolicy/"


def inline(rows, initial=0) -> dict:
    data = {
        "notification_methods-TOTAL_FORMS": str(len(rows)),
        "notification_methods-INITIAL_FORMS": str(initial),
        "notification_methods-MIN_NUM_FORMS": "0",
        "notification_methods-MAX_NUM_FORMS": "1000",
    }
    for index, (integration_id, position) in enumerate(rows):
        data[f"notification_methods-{index}-integration"] = str(integration_id)
        data[f"notification_methods-{index}-position"] = str(position)
    return data


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_admin_adds_a_policy_with_inline_methods_and_logs_it(admin_client, admin_user, global_scope, outputs):
    data = {
        "name": "From admin",
        "description": "",
        "enabled": "on",
        "scopes": [global_scope.pk],
        "trigger": "runtime_threats",
        "min_severity": "",
        "repeat_interval": "3600",
        **inline([(outputs["chat"].pk, 0), (outputs["mail"].pk, 1)]),
    }
    response = admin_client.post(f"{ADMIN}add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    policy = ResponsePolicy.objects.get(name="From admin")
    assert policy.created_by == admin_user and policy.min_severity == 4
    entry = AuditEntry.objects.get()
    assert entry.source == "admin" and entry.action == "create"
    assert entry.changes["notification_methods"] == [None, ["On-call chat", "SOC mailbox"]]


@pytest.mark.django_db
def test_admin_refuses_a_policy_without_methods_or_with_a_threshold_on_malware(admin_client, global_scope):
    data = {
        "name": "Bad",
        "scopes": [global_scope.pk],
        "trigger": "malware",
        "min_severity": "5",
        "repeat_interval": "0",
        **inline([]),
    }
    response = admin_client.post(f"{ADMIN}add/", data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "no severity threshold" in html and "Add at least one notification method." in html
    assert not ResponsePolicy.objects.exists()


@pytest.mark.django_db
def test_admin_change_logs_only_the_changed_fields(admin_client, make_policy, global_scope, outputs):
    policy = make_policy("Critical CVEs")
    method = policy.notification_methods.get()
    data = {
        "name": "Critical CVEs",
        "description": "now described",
        "enabled": "on",
        "scopes": [global_scope.pk],
        "trigger": "critical_vulnerabilities",
        "min_severity": "5",
        "repeat_interval": "14400",
        **inline([(outputs["mail"].pk, 0)], initial=1),
        "notification_methods-0-id": str(method.pk),
        "notification_methods-0-policy": str(policy.pk),
    }
    assert admin_client.post(f"{ADMIN}{policy.pk}/change/", data).status_code == 302
    assert AuditEntry.objects.get().changes == {"description": ["", "now described"]}


@pytest.mark.django_db
def test_admin_actions_disable_and_enable_policies(admin_client, make_policy):
    first, second = make_policy("One"), make_policy("Two", enabled=False)
    admin_client.post(ADMIN, {"action": "disable_policies", "_selected_action": [first.pk, second.pk]})
    first.refresh_from_db()
    assert not first.enabled
    assert list(AuditEntry.objects.values_list("action", "object_repr")) == [("disable", "One")]
    admin_client.post(ADMIN, {"action": "enable_policies", "_selected_action": [first.pk, second.pk]})
    assert ResponsePolicy.objects.filter(enabled=True).count() == 2


@pytest.mark.django_db
def test_admin_delete_is_logged(admin_client, make_policy):
    policy = make_policy("Doomed")
    admin_client.post(f"{ADMIN}{policy.pk}/delete/", {"post": "yes"})
    assert not ResponsePolicy.objects.exists()
    assert AuditEntry.objects.get().action == "delete"


@pytest.mark.django_db
def test_admin_search_and_filters(admin_client, make_policy):
    make_policy("Prod criticals")
    make_policy("Staging malware", trigger="malware", min_severity=None, enabled=False)
    assert "Staging malware" not in admin_client.get(ADMIN, {"q": "prod"}).content.decode()
    html = admin_client.get(ADMIN, {"enabled__exact": "0"}).content.decode()
    assert "Staging malware" in html and "Prod criticals" not in html


@pytest.mark.django_db
def test_admin_protects_the_global_scope_and_scopes_in_use(admin_client, make_policy, global_scope, prod_scope):
    make_policy("Prod criticals", scopes=[prod_scope])
    assert admin_client.post(f"/admin/policies/scope/{global_scope.pk}/delete/", {"post": "yes"}).status_code == 403
    response = admin_client.post(f"/admin/policies/scope/{prod_scope.pk}/delete/", {"post": "yes"})
    assert "used by “Prod criticals”" in response.content.decode()
    assert Scope.objects.count() == 2 and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_admin_scope_change_is_logged(admin_client, prod_scope):
    data = {
        "name": "Production",
        "description": "",
        "clusters": '["prod-eu-*"]',
        "namespaces": '["payments"]',
        "registries": "[]",
        "repositories": "[]",
    }
    assert admin_client.post(f"/admin/policies/scope/{prod_scope.pk}/change/", data).status_code == 302
    entry = AuditEntry.objects.get()
    assert entry.source == "admin" and entry.changes == {"clusters": [["prod-*"], ["prod-eu-*"]]}


@pytest.mark.django_db
def test_audit_log_is_read_only_in_the_admin(admin_client, make_policy, admin_user):
    from kcs import audit
    from kcs.models import AuditAction

    entry = audit.record(None, AuditAction.CREATE, make_policy("Logged"))
    assert admin_client.get("/admin/kcs/auditentry/").status_code == 200
    assert admin_client.post(f"/admin/kcs/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_admin_change_of_fields_and_methods_writes_one_audit_entry(admin_client, make_policy, global_scope, outputs):
    policy = make_policy("Critical CVEs")
    method = policy.notification_methods.get()
    data = {
        "name": "Critical CVEs",
        "description": "",
        "enabled": "",
        "scopes": [global_scope.pk],
        "trigger": "critical_vulnerabilities",
        "min_severity": "5",
        "repeat_interval": "14400",
        **inline([(outputs["chat"].pk, 0), (outputs["hook"].pk, 1)], initial=1),
        "notification_methods-0-id": str(method.pk),
        "notification_methods-0-policy": str(policy.pk),
    }
    assert admin_client.post(f"{ADMIN}{policy.pk}/change/", data).status_code == 302
    entry = AuditEntry.objects.get()
    assert entry.source == "admin" and entry.action == "update"
    assert entry.changes == {
        "enabled": [True, False],
        "notification_methods": [["SOC mailbox"], ["On-call chat", "SIEM hook"]],
    }
    assert [m.integration.name for m in policy.notification_methods.order_by("position")] == [
        "On-call chat",
        "SIEM hook",
    ]


@pytest.mark.django_db
def test_admin_policy_pages_show_the_policies_and_their_outputs(admin_client, make_policy, outputs):
    policy = make_policy("Prod criticals", methods=("mail", "hook"))
    make_policy("Staging malware", trigger="malware", min_severity=None)
    listing = admin_client.get(ADMIN).content.decode()
    assert "Prod criticals" in listing and "Staging malware" in listing
    page = admin_client.get(f"{ADMIN}{policy.pk}/change/").content.decode()
    assert 'value="Prod criticals"' in page and "SOC mailbox" in page and "SIEM hook" in page and "Global" in page


@pytest.mark.django_db
def test_admin_refuses_a_policy_name_taken_ignoring_case(admin_client, make_policy, global_scope, outputs):
    make_policy("Prod criticals")
    data = {
        "name": "PROD criticals",
        "scopes": [global_scope.pk],
        "trigger": "malware",
        "repeat_interval": "0",
        **inline([(outputs["mail"].pk, 0)]),
    }
    page = admin_client.post(f"{ADMIN}add/", data).content.decode()
    assert "A policy named “PROD criticals” already exists." in page
    assert ResponsePolicy.objects.count() == 1 and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_admin_adds_a_scope_through_the_service_with_one_audit_entry(admin_client):
    data = {
        "name": "Payments",
        "description": "",
        "clusters": '["prod-*"]',
        "namespaces": '[" payments ", "payments"]',
        "registries": "[]",
        "repositories": "[]",
    }
    assert admin_client.post("/admin/policies/scope/add/", data).status_code == 302
    scope = Scope.objects.get(name="Payments")
    assert scope.namespaces == ["payments"]  # cleaned by the shared rules
    entry = AuditEntry.objects.get()
    assert entry.source == "admin" and entry.action == "create" and entry.object_id == str(scope.pk)
    assert "Payments" in admin_client.get("/admin/policies/scope/").content.decode()


def _switch(html: str, policy) -> str:
    """The row switch's button of ``policy`` in the changelist's HTML."""
    match = re.search(rf'<button[^>]*formaction="([^"]*/{policy.pk}/toggle/[^"]*)"[^>]*value="(\d)"', html)
    assert match, f"no status switch for {policy.name}"
    return match.group(1).replace("&amp;", "&"), match.group(2)


@pytest.mark.django_db
def test_admin_row_switch_flips_a_policy_through_the_service_and_logs_it(admin_client, make_policy):
    policy = make_policy("Nightly CVEs")
    make_policy("Other policy")
    page = admin_client.get(ADMIN, {"q": "Nightly"})
    html = page.content.decode()
    assert 'name="q"' in html and "Other policy" not in html  # the search box is kept, and works
    action, value = _switch(html, policy)
    assert value == "0"  # the switch of an enabled policy disables it
    # The switch posts the changelist's own form, CSRF token included.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = admin_client.post(action, {"csrfmiddlewaretoken": token, "enabled": value})
    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}?q=Nightly"  # back to the list as it was searched
    policy.refresh_from_db()
    assert policy.enabled is False
    entry = AuditEntry.objects.get()
    assert (entry.source, entry.action, entry.object_repr) == ("admin", "disable", "Nightly CVEs")
    assert entry.changes == {"enabled": [True, False]}
    followed = admin_client.get(response["Location"]).content.decode()
    assert "Policy “Nightly CVEs” disabled." in followed
    assert _switch(followed, policy)[1] == "1"


@pytest.mark.django_db
def test_admin_row_switch_needs_a_post_with_csrf_and_the_change_right(client, admin_user, make_policy):
    policy = make_policy("Nightly CVEs")
    url = f"{ADMIN}{policy.pk}/toggle/"
    client.force_login(admin_user)
    assert client.get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(url, {"enabled": "0"}).status_code == 403
    viewer = UserFactory(username="viewer", is_staff=True, groups=["IS auditor"])
    client.force_login(viewer)
    page = client.get(ADMIN).content.decode()
    assert "Nightly CVEs" in page and "/toggle/" not in page
    assert client.post(url, {"enabled": "0"}).status_code == 403
    policy.refresh_from_db()
    assert policy.enabled is True and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_staff_limited_to_some_scopes_cannot_open_the_admin(client, make_policy):
    """The admin's lists are not narrowed to scopes: a person who does not hold Global is kept out of it all."""
    make_policy("Nightly CVEs")
    limited = UserFactory(username="limited", is_staff=True, groups=["IS auditor"])
    limit_to(limited, [ScopeFactory(name="prod", clusters=["prod-*"])])
    client.force_login(limited)
    for url in ("/admin/", ADMIN, "/admin/events/securityevent/"):
        answer = client.get(url)
        assert answer.status_code == 302 and answer["Location"].startswith("/admin/login/"), url
    assert "Nightly CVEs" not in client.get(ADMIN, follow=True).content.decode()
    limit_to(limited, [])  # no limit: the IS auditor role covers Global
    assert client.get(ADMIN).status_code == 200
