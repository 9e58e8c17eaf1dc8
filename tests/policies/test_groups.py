"""The groups seeded by migration: Security officer manages, Auditor only reads."""

import pytest

from tests.factories import PASSWORD


@pytest.mark.django_db
def test_security_officer_can_manage_policies_and_scopes_and_read_the_rest(officer):
    for perm in (
        "policies.manage_responsepolicy",
        "policies.view_responsepolicy",
        "policies.add_scope",
        "policies.change_scope",
        "policies.delete_scope",
        "notifications.view_notificationintegration",
        "events.view_securityevent",
        "notifications.view_notification",
        "kcs.view_auditentry",
    ):
        assert officer.has_perm(perm), perm
    assert not officer.has_perm("notifications.change_notificationintegration")


@pytest.mark.django_db
def test_auditor_only_reads(auditor):
    assert auditor.has_perm("policies.view_responsepolicy") and auditor.has_perm("kcs.view_auditentry")
    assert not any(
        perm.split(".")[1].startswith(("add_", "change_", "delete_", "manage_"))
        for perm in auditor.get_all_permissions()
    )


@pytest.mark.django_db
def test_officer_signs_in_and_reaches_the_policies(client, officer):
    assert client.login(username="officer", password=PASSWORD)
    assert client.get("/policies/response/").status_code == 200
