"""Scopes on roles and people: who holds which scopes, the header's scope switcher, the roles' and users' scopes on
the screens and in the API, and the rule that giving Global to a role needs *manage global scope*."""

from __future__ import annotations

import pytest

from kcs.models import AuditEntry, Role, UserProfile
from kcs.visibility import ScopeNotHeld, visibility_for
from tests.factories import PASSWORD, ScopeFactory, UserFactory, global_scope, make_role, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def scopes(db):
    return {
        "global": global_scope(),
        "prod": ScopeFactory(name="prod", clusters=["prod"]),
        "staging": ScopeFactory(name="staging", clusters=["staging*"]),
    }


def _names(visibility) -> list[str]:
    return [scope.name for scope in visibility.held]


def test_a_system_role_covers_every_scope_for_someone_who_may_view_global(scopes):
    officer = UserFactory(groups=["IS officer"])
    visibility = visibility_for(officer)
    assert _names(visibility) == ["Global", "prod", "staging"]
    assert visibility.unrestricted


def test_a_custom_role_holds_its_scopes_only(scopes):
    role = make_role("PRODTEAM", rights=["events.view_securityevent"], scopes=[scopes["prod"]])
    person = UserFactory()
    person.groups.add(role.group)
    visibility = visibility_for(person)
    assert _names(visibility) == ["prod"]
    assert not visibility.unrestricted


def test_global_on_a_role_counts_only_with_view_global_scope(scopes):
    role = make_role("WIDE", rights=["events.view_securityevent"], scopes=[scopes["global"], scopes["staging"]])
    person = UserFactory()
    person.groups.add(role.group)
    assert _names(visibility_for(person)) == ["staging"]
    role.group.permissions.add(*Role.objects.none())  # unchanged rights: still no Global
    wide = make_role("WIDER", rights=["kcs.view_global_scope"], scopes=[scopes["global"]])
    other = UserFactory()
    other.groups.add(wide.group)
    assert visibility_for(other).unrestricted


def test_the_union_of_roles_and_a_personal_limit(scopes):
    prod_role = make_role("PRODTEAM", scopes=[scopes["prod"]])
    staging_role = make_role("STAGETEAM", scopes=[scopes["staging"]])
    person = UserFactory()
    person.groups.add(prod_role.group, staging_role.group)
    assert _names(visibility_for(person)) == ["prod", "staging"]
    profile, _ = UserProfile.objects.get_or_create(user=person)
    profile.scopes.set([scopes["prod"]])
    assert _names(visibility_for(person)) == ["prod"]


def test_a_limited_officer_holds_only_the_limit(scopes):
    officer = UserFactory(groups=["IS officer"])
    UserProfile.objects.create(user=officer).scopes.set([scopes["prod"]])
    visibility = visibility_for(officer)
    assert _names(visibility) == ["prod"] and not visibility.unrestricted
    with pytest.raises(ScopeNotHeld):
        visibility_for(officer, scopes["staging"].pk)


def test_the_resource_filter_matches_like_the_engine(scopes):
    role = make_role("STAGETEAM", scopes=[scopes["staging"]])
    person = UserFactory()
    person.groups.add(role.group)
    visibility = visibility_for(person)

    class Event:
        def __init__(self, cluster):
            self.cluster, self.namespace, self.registry, self.repository = cluster, "", "", ""

    assert visibility.contains(Event("STAGING-eu"))
    assert not visibility.contains(Event("prod"))
    assert not visibility.contains(Event(""))


def test_the_switcher_selects_a_held_scope_and_refuses_others(client, scopes):
    officer = UserFactory(username="officer", groups=["IS officer"])
    UserProfile.objects.create(user=officer).scopes.set([scopes["prod"], scopes["staging"]])
    client.force_login(officer)
    page = client.get("/tokens/").content.decode()
    assert 'id="active-scope"' in page and ">All my scopes<" in page and ">Global<" not in page
    response = client.post("/scope/", {"scope": scopes["prod"].pk, "next": "/tokens/"})
    assert response.status_code == 302 and response["Location"] == "/tokens/"
    assert f'value="{scopes["prod"].pk}" selected' in client.get("/tokens/").content.decode()
    response = client.post("/scope/", {"scope": scopes["global"].pk, "next": "https://evil.example/"}, follow=True)
    assert "That scope is not one of yours." in response.content.decode()
    assert response.redirect_chain[-1][0] == "/" or response.redirect_chain[0][0] == "/"


def test_the_api_selects_with_the_scope_parameter(scopes):
    officer = UserFactory(groups=["IS officer"])
    UserProfile.objects.create(user=officer).scopes.set([scopes["prod"]])
    api = token_client(officer)
    assert api.get("/api/v1/events/", {"scope": scopes["prod"].pk}).status_code == 200
    refused = api.get("/api/v1/events/", {"scope": scopes["staging"].pk})
    assert refused.status_code == 400 and "scope" in refused.json()["errors"]
    assert api.get("/api/v1/events/", {"scope": "x"}).status_code == 400


# --- roles and users carry their scopes ----------------------------------------------------------------------------
@pytest.fixture
def isadm_api(db):
    return token_client(UserFactory(username="isadm", groups=["IS administrator"]))


def test_the_roles_api_reads_and_writes_scopes(isadm_api, scopes):
    created = isadm_api.post(
        "/api/v1/roles/",
        {
            "role_id": "PRODTEAM",
            "name": "Prod team",
            "rights": ["events.view_securityevent"],
            "scopes": [scopes["prod"].pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["scopes"] == [scopes["prod"].pk]
    role = Role.objects.get(role_id="PRODTEAM")
    changed = isadm_api.patch(f"/api/v1/roles/{role.pk}/", {"scopes": [scopes["staging"].pk]}, format="json")
    assert changed.json()["scopes"] == [scopes["staging"].pk]
    entry = AuditEntry.objects.filter(object_type="role").latest("id")
    assert entry.changes["scopes"] == [["prod"], ["staging"]]
    officer = Role.objects.get(role_id="ISOFF")
    assert isadm_api.get(f"/api/v1/roles/{officer.pk}/").json()["scopes"] == [scopes["global"].pk]


def test_bad_scopes_are_refused_naming_the_field(isadm_api, scopes):
    for value in (["prod"], [999999], "1"):
        response = isadm_api.post(
            "/api/v1/roles/", {"role_id": "BAD", "name": "Bad", "rights": [], "scopes": value}, format="json"
        )
        assert response.status_code == 400 and "scopes" in response.json()["errors"]
    assert not Role.objects.filter(role_id="BAD").exists()


def test_giving_global_to_a_role_needs_manage_global_scope(scopes):
    # A user manager without *manage global scope*: a custom role with both access rights only.
    manager_role = make_role("USERADM", rights=["kcs.view_access", "kcs.manage_access"], scopes=[scopes["prod"]])
    manager = UserFactory()
    manager.groups.add(manager_role.group)
    api = token_client(manager)
    refused = api.post(
        "/api/v1/roles/",
        {"role_id": "WIDE", "name": "Wide", "rights": [], "scopes": [scopes["global"].pk]},
        format="json",
    )
    assert refused.status_code == 400 and "Manage the Global scope" in refused.json()["errors"]["scopes"][0]
    assert not Role.objects.filter(role_id="WIDE").exists()
    allowed = api.post(
        "/api/v1/roles/",
        {"role_id": "NARROW", "name": "Narrow", "rights": [], "scopes": [scopes["prod"].pk]},
        format="json",
    )
    assert allowed.status_code == 201
    kcsadm = token_client(UserFactory(groups=["KCS administrator"]))
    assert (
        kcsadm.post(
            "/api/v1/roles/",
            {"role_id": "WIDE", "name": "Wide", "rights": [], "scopes": [scopes["global"].pk]},
            format="json",
        ).status_code
        == 201
    )


def test_the_users_api_sets_a_scope_limit(isadm_api, scopes):
    created = isadm_api.post(
        "/api/v1/users/",
        {
            "username": "prod-officer",
            "password": "Str0ng!Passw0rd",
            "roles": ["ISOFF"],
            "scopes": [scopes["prod"].pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["scopes"] == [scopes["prod"].pk]
    assert "password" not in created.json()
    person = UserProfile.objects.get(user__username="prod-officer").user
    assert _names(visibility_for(person)) == ["prod"]


def test_the_user_screen_limits_a_person_to_a_scope(client, scopes):
    client.force_login(UserFactory(username="isadm", groups=["IS administrator"]))
    form = client.get("/access/users/add/").content.decode()
    assert "Limit to scopes" in form
    response = client.post(
        "/access/users/add/",
        {
            "username": "prod-officer",
            "password": "Str0ng!Passw0rd",
            "roles": [Role.objects.get(role_id="ISOFF").pk],
            "scopes": [scopes["prod"].pk],
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    person = UserProfile.objects.get(user__username="prod-officer").user
    assert _names(visibility_for(person)) == ["prod"]
    assert person.check_password("Str0ng!Passw0rd") and PASSWORD
