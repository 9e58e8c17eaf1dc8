"""Roles: the screens and the API, the rules they share, system roles, and the last role that manages access."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from kcs.models import AuditEntry, Role
from kcs.rights import MANAGE_ACCESS, MANAGE_POLICIES, VIEW_ACCESS, VIEW_POLICIES
from tests.factories import UserFactory, token_client

pytestmark = pytest.mark.django_db

SECOPS = {
    "role_id": "SECOPS2",
    "name": "Security operations",
    "description": "Night shift",
    "rights": [VIEW_POLICIES, MANAGE_POLICIES],
}


def test_api_creates_a_role_with_its_rights_and_logs_it(isadm_api):
    response = isadm_api.post("/api/v1/roles/", SECOPS, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body | {"id": 0} == {
        "id": 0,
        "role_id": "SECOPS2",
        "name": "Security operations",
        "description": "Night shift",
        "rights": [VIEW_POLICIES, MANAGE_POLICIES],
        "scopes": [],
        "is_system": False,
    }
    member = UserFactory(groups=["Security operations"])
    assert member.has_perm(MANAGE_POLICIES) and not member.has_perm(VIEW_ACCESS)
    entry = AuditEntry.objects.get(object_type="role", action="create")
    assert entry.actor_name == "isadm" and entry.source == "api" and entry.changes["role_id"] == [None, "SECOPS2"]


@pytest.mark.parametrize(
    "change,field",
    [
        ({"role_id": "secops"}, "role_id"),
        ({"role_id": "SEC-OPS"}, "role_id"),
        ({"role_id": "ФСБ1"}, "role_id"),
        ({"role_id": ""}, "role_id"),
        ({"role_id": "ISOFF"}, "role_id"),
        ({"name": ""}, "name"),
        ({"name": "is officer"}, "name"),
        ({"rights": ["policies.view_responsepolicy", "kcs.fly_to_the_moon"]}, "rights"),
        ({"rights": "policies.view_responsepolicy"}, "rights"),
        ({"role_id": "R" * 33}, "role_id"),
    ],
)
def test_api_refuses_a_bad_role_naming_the_field_and_stores_nothing(isadm_api, change, field):
    before = Role.objects.count()
    response = isadm_api.post("/api/v1/roles/", SECOPS | change, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert Role.objects.count() == before and not AuditEntry.objects.exists()


def test_role_id_with_lower_case_letters_is_refused_on_the_screen(isadm_client):
    response = isadm_client.post(
        "/access/roles/add/", {"role_id": "secops", "name": "Security operations", "rights": [VIEW_POLICIES]}
    )
    assert response.status_code == 400
    assert "role_id" in response.context["form"].errors
    assert "upper-case Latin letters" in response.content.decode()
    assert not Role.objects.filter(group__name="Security operations").exists()


def test_screen_adds_edits_and_deletes_a_custom_role(isadm_client):
    response = isadm_client.post(
        "/access/roles/add/",
        {"role_id": "SECOPS", "name": "Security operations", "description": "", "rights": [VIEW_POLICIES]},
    )
    assert response.status_code == 302
    role = Role.objects.get(role_id="SECOPS")
    page = isadm_client.get(f"/access/roles/{role.pk}/").content.decode()
    assert 'value="policies.view_responsepolicy" id="id_rights_0" checked' in page
    response = isadm_client.post(
        f"/access/roles/{role.pk}/",
        {"role_id": "SECOPS", "name": "SecOps", "rights": [VIEW_POLICIES, MANAGE_POLICIES]},
    )
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.group.name == "SecOps"
    assert set(role.group.permissions.values_list("codename", flat=True)) == {
        "view_responsepolicy",
        "manage_responsepolicy",
    }
    listing = isadm_client.get("/access/roles/").content.decode()
    assert "SecOps" in listing and "KCS administrator" in listing
    assert isadm_client.post(f"/access/roles/{role.pk}/delete/").status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists() and not Group.objects.filter(name="SecOps").exists()
    assert list(AuditEntry.objects.filter(object_type="role").values_list("action", flat=True)) == [
        "delete",
        "update",
        "create",
    ]


def test_role_form_groups_the_rights_by_area(isadm_client):
    page = isadm_client.get("/access/roles/add/").content.decode()
    for area in ("Response policies", "Scopes", "Integrations", "Events", "Security event log", "Users and roles"):
        assert f"<legend>{area}</legend>" in page


def test_rights_that_do_not_exist_yet_are_neither_shown_nor_assignable(isadm_api, isadm_client):
    from django.contrib.auth.models import Permission

    Permission.objects.filter(content_type__app_label="kcs", codename="manage_own_tokens").delete()
    listed = [item["right"] for item in isadm_api.get("/api/v1/roles/rights/").json()]
    assert VIEW_POLICIES in listed and "kcs.manage_own_tokens" not in listed
    assert "kcs.manage_own_tokens" not in isadm_client.get("/access/roles/add/").content.decode()
    response = isadm_api.post("/api/v1/roles/", SECOPS | {"rights": ["kcs.manage_own_tokens"]}, format="json")
    assert response.status_code == 400 and "rights" in response.json()["errors"]


def test_system_roles_cannot_be_changed_or_deleted(isadm_api, isadm_client, system_roles):
    auditor = system_roles["ISAUD"]
    response = isadm_api.patch(f"/api/v1/roles/{auditor.pk}/", {"rights": []}, format="json")
    assert response.status_code == 400 and "system role" in response.json()["detail"]
    response = isadm_api.delete(f"/api/v1/roles/{auditor.pk}/")
    assert response.status_code == 400
    page = isadm_client.get(f"/access/roles/{auditor.pk}/").content.decode()
    assert "Save changes" not in page
    assert "View the security event log" in page
    assert isadm_client.post(f"/access/roles/{auditor.pk}/delete/").status_code == 302
    assert Role.objects.filter(pk=auditor.pk).exists()


@pytest.fixture
def only_admin_role(db, system_roles):
    """A custom role that is the only one giving an active person the right to manage users and roles."""
    for role_id in ("KCSADM", "ISADM"):
        system_roles[role_id].group.user_set.update(is_active=False)
    admins = _make_role("ADMINS", "Admins", [VIEW_ACCESS, MANAGE_ACCESS])
    boss = UserFactory(username="boss", groups=["Admins"])
    return admins, boss


def _make_role(role_id: str, name: str, rights: list[str]) -> Role:
    from kcs import roles

    return roles.create_role(None, {"role_id": role_id, "name": name, "description": "", "rights": rights})


def test_the_last_role_that_manages_access_cannot_be_deleted(only_admin_role):
    admins, boss = only_admin_role
    api = token_client(boss)
    response = api.delete(f"/api/v1/roles/{admins.pk}/")
    assert response.status_code == 400
    assert "last role that lets an active user manage users and roles" in response.json()["detail"]
    assert Role.objects.filter(pk=admins.pk).exists()


def test_the_last_role_that_manages_access_cannot_lose_that_right(only_admin_role, client):
    admins, boss = only_admin_role
    response = token_client(boss).patch(f"/api/v1/roles/{admins.pk}/", {"rights": [VIEW_ACCESS]}, format="json")
    assert response.status_code == 400
    assert "last role" in response.json()["errors"]["rights"][0]
    client.force_login(boss)
    response = client.post(
        f"/access/roles/{admins.pk}/", {"role_id": "ADMINS", "name": "Admins", "rights": [VIEW_ACCESS]}
    )
    assert response.status_code == 400 and "last role" in response.content.decode()
    response = client.post(f"/access/roles/{admins.pk}/delete/", follow=True)
    assert "last role" in response.content.decode()
    assert set(admins.group.permissions.values_list("codename", flat=True)) == {"view_access", "manage_access"}


def test_a_second_role_with_an_active_manager_lifts_the_protection(only_admin_role):
    admins, boss = only_admin_role
    UserFactory(username="deputy", groups=["IS administrator"])
    assert token_client(boss).delete(f"/api/v1/roles/{admins.pk}/").status_code == 204


def test_roles_api_needs_the_rights(plain_api, plain_user):
    from tests.factories import grant

    assert plain_api.get("/api/v1/roles/").status_code == 403
    grant(plain_user, VIEW_ACCESS)
    viewer = token_client(plain_user)
    assert viewer.get("/api/v1/roles/").status_code == 200
    assert viewer.post("/api/v1/roles/", SECOPS, format="json").status_code == 403
    assert not Role.objects.filter(role_id="SECOPS2").exists()
