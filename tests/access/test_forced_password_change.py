"""Change password at next sign-in: until the person sets a new password they reach nothing else, on the screens or
the API."""

from __future__ import annotations

import pytest

from kcs.models import AuditEntry, UserProfile
from tests.factories import PASSWORD, UserFactory, token_client, vulnerability

pytestmark = pytest.mark.django_db
NEW = "N3w-password"


@pytest.fixture
def forced(db):
    user = UserFactory(username="newbie", groups=["IS officer"])
    UserProfile.objects.create(user=user, must_change_password=True)
    return user


def test_screens_redirect_to_the_password_form_until_it_is_changed(client, forced):
    assert client.login(username="newbie", password=PASSWORD)
    for path in ("/policies/response/", "/events/", "/tokens/", "/access/users/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url == "/account/password/", path
    page = client.get("/account/password/").content.decode()
    assert "You must change your password before doing anything else." in page
    response = client.post("/account/password/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302
    assert client.get("/policies/response/").status_code == 200  # still signed in, free again
    forced.refresh_from_db()
    assert forced.check_password(NEW) and not forced.profile.must_change_password
    entry = AuditEntry.objects.get(object_type="user", object_repr="newbie")
    assert entry.changes == {"password": ["********", "changed"], "must_change_password": [True, False]}


def test_api_tokens_of_such_a_user_get_403_saying_why_until_the_password_is_changed(forced, client):
    api = token_client(forced)
    response = api.get("/api/v1/response-policies/")
    assert response.status_code == 403
    assert "must change their password" in response.json()["detail"]
    assert api.post("/api/v1/events/", vulnerability(), format="json").status_code == 403
    client.force_login(forced)
    client.post("/account/password/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert api.get("/api/v1/response-policies/").status_code == 200


def test_api_calls_with_the_session_get_403_too(client, forced):
    client.force_login(forced)
    response = client.get("/api/v1/response-policies/")
    assert response.status_code == 403 and "change your password" in response.json()["detail"]


def test_sign_out_stays_possible(client, forced):
    client.force_login(forced)
    assert client.post("/logout/").status_code == 302
    assert client.get("/policies/response/").url.startswith("/login/")


def test_an_administrator_sets_the_flag_and_it_applies_at_the_next_sign_in(client, db):
    person = UserFactory(username="person", groups=["Developer"])
    admin = token_client(UserFactory(username="boss", groups=["IS administrator"]))
    response = admin.patch(f"/api/v1/users/{person.pk}/", {"must_change_password": True}, format="json")
    assert response.status_code == 200 and response.json()["must_change_password"] is True
    assert client.login(username="person", password=PASSWORD)
    assert client.get("/events/").url == "/account/password/"
