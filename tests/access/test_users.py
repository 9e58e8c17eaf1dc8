"""Users: the table, adding and editing, the password rule, reset password, and who may not be deactivated or
deleted."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from kcs.models import AuditEntry, UserProfile
from kcs.rights import VIEW_ACCESS
from tests.factories import PASSWORD, UserFactory, grant, token_client

pytestmark = pytest.mark.django_db
User = get_user_model()

ALICE = {
    "username": "alice.smith@example.com",
    "display_name": "Alice Smith",
    "email": "alice@example.com",
    "password": "Str0ng-pass",
    "roles": ["ISOFF"],
    "must_change_password": False,
}


def test_api_creates_a_user_and_never_returns_the_password(isadm_api):
    response = isadm_api.post("/api/v1/users/", ALICE, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "password" not in body
    assert body | {"id": 0} == {
        "id": 0,
        "username": "alice.smith@example.com",
        "display_name": "Alice Smith",
        "email": "alice@example.com",
        "roles": ["ISOFF"],
        "is_active": True,
        "last_login": None,
        "must_change_password": False,
        "scopes": [],
    }
    alice = User.objects.get(username="alice.smith@example.com")
    assert alice.check_password("Str0ng-pass") and alice.has_perm("policies.manage_responsepolicy")
    entry = AuditEntry.objects.get(object_type="user", action="create")
    assert entry.changes["roles"] == [None, ["ISOFF"]] and "Str0ng-pass" not in str(entry.changes)
    listed = isadm_api.get("/api/v1/users/?search=alice").json()
    assert [user["username"] for user in listed["results"]] == ["alice.smith@example.com"]


@pytest.mark.parametrize(
    "change,field,words",
    [
        ({"password": "No-digits-here"}, "password", "a digit"),
        ({"password": "n0-upper-case"}, "password", "upper-case"),
        ({"password": "N0LOWER-CASE"}, "password", "lower-case"),
        ({"password": "N0special"}, "password", "special character"),
        ({"password": "A1-b"}, "password", "at least 6"),
        ({"password": "Aa1-" + "x" * 69}, "password", "at most 72"),
        ({"roles": []}, "roles", "at least one role"),
        ({"roles": ["NOSUCH"]}, "roles", "No role"),
        ({"roles": "ISOFF"}, "roles", "Expected a list"),
        ({"is_active": "maybe"}, "is_active", "valid boolean"),
        ({"username": "bob"}, "username", "4–254"),
        ({"username": "bob smith"}, "username", "4–254"),
        ({"username": "ЮРИЙ"}, "username", "4–254"),
        ({"username": "a" * 255}, "username", "4–254"),
        ({"email": "not-an-address"}, "email", "valid email"),
    ],
)
def test_bad_input_gets_a_400_naming_the_field_and_stores_nothing(isadm_api, change, field, words):
    response = isadm_api.post("/api/v1/users/", ALICE | change, format="json")
    assert response.status_code == 400
    messages = response.json()["errors"][field]
    assert any(words in message for message in messages), messages
    assert not User.objects.filter(username=(ALICE | change)["username"]).exists()
    assert not AuditEntry.objects.exists()


def test_a_user_name_of_254_characters_is_kept_whole(isadm_api):
    name = "u" * 240 + "@example.com"
    name += "x" * (254 - len(name))
    response = isadm_api.post("/api/v1/users/", ALICE | {"username": name}, format="json")
    assert response.status_code == 201, response.json()
    assert User.objects.get(pk=response.json()["id"]).username == name


def test_user_names_are_unique_ignoring_case(isadm_api):
    UserFactory(username="Alice.Smith@example.com")
    response = isadm_api.post("/api/v1/users/", ALICE, format="json")
    assert response.status_code == 400 and "taken" in response.json()["errors"]["username"][0]


def test_the_password_rule_applies_to_the_own_password_form(client):
    user = UserFactory(username="carol")
    client.force_login(user)
    response = client.post(
        "/account/password/", {"old_password": PASSWORD, "new_password1": "weakpass", "new_password2": "weakpass"}
    )
    assert response.status_code == 400 and "a digit" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_screen_adds_a_user_with_roles(isadm_client):
    response = isadm_client.post(
        "/access/users/add/",
        {
            "username": "dave",
            "display_name": "Dave",
            "email": "",
            "password": "Dave-2026!",
            "roles": [_role_pk("DEV")],
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    dave = User.objects.get(username="dave")
    assert dave.is_active and dave.profile.display_name == "Dave" and dave.has_perm("kcs.manage_own_tokens")


def test_screen_refuses_a_user_without_roles_or_with_a_weak_password(isadm_client):
    response = isadm_client.post("/access/users/add/", {"username": "dave", "password": "Dave-two!", "is_active": "on"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "roles" in errors and "password" in errors
    assert not User.objects.filter(username="dave").exists()


def _role_pk(role_id: str) -> int:
    from kcs.models import Role

    return Role.objects.get(role_id=role_id).pk


def test_users_table_shows_searches_and_sorts(isadm_client):
    UserFactory(username="zed", groups=["Developer"])
    UserFactory(username="amy", groups=["IS auditor"])
    UserProfile.objects.create(user=User.objects.get(username="zed"), display_name="Aaron Zed")
    page = isadm_client.get("/access/users/").content.decode()
    for text in ("Display name", "User name", "Email", "Roles", "Last sign-in", "Active", "Aaron Zed", "ISAUD"):
        assert text in page
    assert page.index(">amy<") < page.index(">zed<")
    by_display = isadm_client.get("/access/users/?sort=display_name").content.decode()
    assert by_display.index(">zed<") < by_display.index(">amy<")  # "Aaron Zed" before an empty display name
    by_role = isadm_client.get("/access/users/?sort=-role").content.decode()
    assert by_role.index(">amy<") < by_role.index(">zed<")  # IS auditor after Developer, descending
    found = isadm_client.get("/access/users/?q=ZE").content.decode()
    assert ">zed<" in found and ">amy<" not in found


def test_viewers_see_the_users_read_only(client):
    viewer = UserFactory(username="viewer", groups=["IS auditor"])
    other = UserFactory(username="other", groups=["Developer"])
    client.force_login(viewer)
    assert "Add user" not in client.get("/access/users/").content.decode()
    page = client.get(f"/access/users/{other.pk}/")
    assert page.status_code == 200 and "Save changes" not in page.content.decode()
    assert (
        client.post(f"/access/users/{other.pk}/", {"username": "renamed", "roles": [_role_pk("DEV")]}).status_code
        == 403
    )
    assert client.get("/access/users/add/").status_code == 403
    assert client.post("/access/users/reset-password/", {"users": [other.pk]}).status_code == 403
    other.refresh_from_db()
    assert other.username == "other" and other.check_password(PASSWORD)


def test_nobody_deactivates_or_deletes_themselves(isadm, isadm_client, isadm_api):
    response = isadm_api.patch(f"/api/v1/users/{isadm.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 400 and "yourself" in response.json()["errors"]["is_active"][0]
    response = isadm_api.delete(f"/api/v1/users/{isadm.pk}/")
    assert response.status_code == 400 and "yourself" in response.json()["detail"]
    assert "yourself" in isadm_client.get(f"/access/users/{isadm.pk}/delete/").content.decode()
    isadm_client.post(f"/access/users/{isadm.pk}/delete/")
    isadm.refresh_from_db()
    assert isadm.is_active


def test_the_last_user_who_can_manage_users_can_be_neither_deactivated_nor_deleted_nor_demoted(db):
    boss = UserFactory(username="boss", groups=["IS administrator"])
    helper = UserFactory(username="helper", rights=["kcs.view_access", "kcs.manage_access"])  # no role: not counted
    api = token_client(helper)
    response = api.patch(f"/api/v1/users/{boss.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 400 and "last active user" in response.json()["errors"]["is_active"][0]
    response = api.patch(f"/api/v1/users/{boss.pk}/", {"roles": ["ISAUD"]}, format="json")
    assert response.status_code == 400 and "last active user" in response.json()["errors"]["roles"][0]
    response = api.delete(f"/api/v1/users/{boss.pk}/")
    assert response.status_code == 400 and "last active user" in response.json()["errors"]["is_active"][0]
    boss.refresh_from_db()
    assert boss.is_active and boss.groups.filter(name="IS administrator").exists()
    UserFactory(username="deputy", groups=["KCS administrator"])
    assert api.delete(f"/api/v1/users/{boss.pk}/").status_code == 204
    assert AuditEntry.objects.filter(object_type="user", action="delete", object_repr="boss").exists()


def test_edit_deactivates_a_user_and_logs_it(isadm_client):
    other = UserFactory(username="other", groups=["Developer"])
    response = isadm_client.post(
        f"/access/users/{other.pk}/",
        {"username": "other", "display_name": "", "email": "other@example.com", "roles": [_role_pk("DEV")]},
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert not other.is_active
    entry = AuditEntry.objects.get(object_type="user")
    assert entry.action == "disable" and entry.changes == {"is_active": [True, False]}


def test_reset_password_shows_a_temporary_password_once_and_forces_a_change(isadm_client, client):
    alice = UserFactory(username="alice", groups=["Developer"])
    bob = UserFactory(username="bob", groups=["Developer"])
    response = isadm_client.post("/access/users/reset-password/", {"users": [alice.pk, bob.pk]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    issued = dict((user.username, password) for user, password in response.context["issued"])
    assert set(issued) == {"alice", "bob"} and issued["alice"] != issued["bob"]
    assert issued["alice"] in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(issued["alice"]) and alice.profile.must_change_password
    assert issued["alice"] not in isadm_client.get("/access/users/").content.decode()
    entry = AuditEntry.objects.filter(object_type="user", object_repr="alice").get()
    assert issued["alice"] not in str(entry.changes) and entry.changes["must_change_password"] == [False, True]
    # Alice signs in with it and must change it before anything else.
    assert client.login(username="alice", password=issued["alice"])
    assert client.get("/events/").url == "/account/password/"


def test_api_resets_a_password(isadm_api):
    bob = UserFactory(username="bob", groups=["Developer"])
    response = isadm_api.post(f"/api/v1/users/{bob.pk}/reset-password/")
    assert response.status_code == 200
    bob.refresh_from_db()
    assert bob.check_password(response.json()["password"]) and bob.profile.must_change_password


def test_users_api_needs_the_rights(plain_api, plain_user):
    assert plain_api.get("/api/v1/users/").status_code == 403
    grant(plain_user, VIEW_ACCESS)
    viewer = token_client(plain_user)
    assert viewer.get("/api/v1/users/").status_code == 200
    assert viewer.post("/api/v1/users/", ALICE, format="json").status_code == 403
    assert viewer.post(f"/api/v1/users/{plain_user.pk}/reset-password/").status_code == 403
    assert not User.objects.filter(username=ALICE["username"]).exists()
