"""The Scopes screens: list, add, edit, delete; the Global scope is read-only; a scope in use stays."""

from __future__ import annotations

import pytest

from kcs.models import AuditEntry
from policies.models import Scope

SCOPES = "/policies/scopes/"


@pytest.mark.django_db
def test_list_shows_global_first_with_its_usage(officer_client, make_policy, prod_scope):
    make_policy("Everything")
    html = officer_client.get(SCOPES).content.decode()
    assert html.index("Global") < html.index("Production")
    assert "Every resource" in html and "prod-*" in html and "1 policy" in html


@pytest.mark.django_db
def test_officer_adds_a_scope_with_patterns_one_per_line(officer_client):
    response = officer_client.post(
        f"{SCOPES}add/",
        {
            "name": "Payments",
            "description": "",
            "clusters": "prod-*\nstage-*, prod-*",
            "namespaces": "payments",
            "registries": "",
            "repositories": "",
        },
    )
    assert response.status_code == 302
    scope = Scope.objects.get(name="Payments")
    assert scope.clusters == ["prod-*", "stage-*"] and scope.namespaces == ["payments"]
    assert AuditEntry.objects.get().object_type == "scope"


@pytest.mark.django_db
def test_scope_name_taken_ignoring_case_is_refused(officer_client, prod_scope):
    response = officer_client.post(f"{SCOPES}add/", {"name": "production"})
    assert response.status_code == 400 and "A scope named “production” already exists." in response.content.decode()


@pytest.mark.django_db
def test_editing_a_scope_logs_the_changed_patterns(officer_client, prod_scope):
    response = officer_client.post(
        f"{SCOPES}{prod_scope.pk}/",
        {
            "name": "Production",
            "clusters": "prod-eu-*",
            "namespaces": "payments",
        },
    )
    assert response.status_code == 302
    assert AuditEntry.objects.get().changes == {"clusters": [["prod-*"], ["prod-eu-*"]]}


@pytest.mark.django_db
def test_global_scope_is_read_only_and_changes_are_refused_with_a_message(officer_client, global_scope):
    page = officer_client.get(f"{SCOPES}{global_scope.pk}/").content.decode()
    assert "cannot be changed or deleted" in page and "<textarea" not in page
    response = officer_client.post(f"{SCOPES}{global_scope.pk}/", {"name": "Everything", "clusters": "x"}, follow=True)
    assert "The Global scope is built in and cannot be changed." in response.content.decode()
    confirm = officer_client.get(f"{SCOPES}{global_scope.pk}/delete/").content.decode()
    assert "cannot be deleted" in confirm and "<button" not in confirm.split("<main")[1]
    response = officer_client.post(f"{SCOPES}{global_scope.pk}/delete/", follow=True)
    assert "cannot be changed or deleted" in response.content.decode()
    global_scope.refresh_from_db()
    assert global_scope.name == "Global" and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_scope_used_by_a_policy_is_not_deleted(officer_client, make_policy, prod_scope):
    make_policy("Prod criticals", scopes=[prod_scope])
    confirm = officer_client.get(f"{SCOPES}{prod_scope.pk}/delete/").content.decode()
    assert "used by “Prod criticals”" in confirm
    officer_client.post(f"{SCOPES}{prod_scope.pk}/delete/")
    assert Scope.objects.filter(pk=prod_scope.pk).exists()


@pytest.mark.django_db
def test_unused_scope_is_deleted_after_confirmation(officer_client, prod_scope):
    assert "Delete the scope “Production”?" in officer_client.get(f"{SCOPES}{prod_scope.pk}/delete/").content.decode()
    officer_client.post(f"{SCOPES}{prod_scope.pk}/delete/")
    assert not Scope.objects.filter(pk=prod_scope.pk).exists()


@pytest.mark.django_db
def test_auditor_sees_scopes_without_controls_and_gets_403_on_changes(auditor_client, prod_scope):
    html = auditor_client.get(SCOPES).content.decode()
    assert "Production" in html and "Add scope" not in html and "Delete" not in html
    assert "<textarea" not in auditor_client.get(f"{SCOPES}{prod_scope.pk}/").content.decode()
    assert auditor_client.post(f"{SCOPES}add/", {"name": "X"}).status_code == 403
    assert auditor_client.post(f"{SCOPES}{prod_scope.pk}/", {"name": "X"}).status_code == 403
    assert auditor_client.post(f"{SCOPES}{prod_scope.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_scope_names_with_html_are_escaped(officer_client):
    Scope.objects.create(name="<b>bold</b>", clusters=["<i>x</i>"])
    html = officer_client.get(SCOPES).content.decode()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;i&gt;x&lt;/i&gt;" in html
