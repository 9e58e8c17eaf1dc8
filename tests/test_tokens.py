"""API tokens: the token page, the command, and how the API treats them."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from kcs.models import ApiToken, hash_token_key
from tests.factories import UserFactory, grant, token_client, vulnerability

pytestmark = pytest.mark.django_db


def test_user_creates_a_token_sees_the_key_once_and_it_works(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/tokens/", {"name": "trivy in CI"})
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key.startswith("kcs_") and key in response.content.decode()
    token = ApiToken.objects.get(name="trivy in CI")
    assert token.key_hash == hash_token_key(key) and key not in token.key_hash  # stored hashed
    listing = client.get("/tokens/").content.decode()
    assert "trivy in CI" in listing and key not in listing  # never shown again
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/events/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_page_showing_a_new_key_is_never_cached(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/tokens/", {"name": "trivy in CI"})
    assert response.context["new_key"] in response.content.decode()
    assert "no-store" in [part.strip() for part in response["Cache-Control"].split(",")]


def test_token_form_errors_are_shown(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/tokens/", {"name": "", "expires_at": "2000-01-01T00:00"})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"name", "expires_at"}
    assert ApiToken.objects.count() == 0


def test_revoked_token_stops_working(client, admin_user):
    token, key = ApiToken.issue(admin_user, "old")
    client.force_login(admin_user)
    client.post(f"/tokens/{token.pk}/revoke/")
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/events/").status_code == 401


def test_users_cannot_revoke_each_others_tokens(client, admin_user):
    token, _ = ApiToken.issue(admin_user, "mine")
    client.force_login(UserFactory(username="developer", groups=["Developer"]))
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_expired_token_is_refused(admin_user):
    _, key = ApiToken.issue(admin_user, "short", expires_at=timezone.now() - timedelta(seconds=1))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.get("/api/v1/events/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_token_page_needs_login(client):
    assert client.get("/tokens/").status_code == 302


def test_token_page_needs_the_right_to_manage_own_tokens(client, plain_user):
    client.force_login(plain_user)
    assert client.get("/tokens/").status_code == 403
    assert client.post("/tokens/", {"name": "sneaky"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_create_api_token_prints_only_the_key(capsys, admin_user):
    call_command("create_api_token", admin_user.username, "--name", "harbor")
    out = capsys.readouterr().out.strip()
    assert out.startswith("kcs_") and "\n" not in out
    assert ApiToken.objects.get(name="harbor").key_hash == hash_token_key(out)


def test_create_api_token_for_unknown_user_fails_clearly():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")


def test_ensure_admin_creates_admin_once_with_printed_password(capsys, settings, tmp_path, django_user_model):
    settings.VAR_DIR = tmp_path
    settings.KCS_ADMIN_PASSWORD = ""
    call_command("ensure_admin")
    out = capsys.readouterr().out
    password = (tmp_path / "admin_password").read_text().strip()
    assert f"admin / {password}" in out
    admin = django_user_model.objects.get(username="admin")
    assert admin.check_password(password)
    assert list(admin.groups.values_list("role__role_id", flat=True)) == ["ISADM"]
    call_command("ensure_admin")
    assert django_user_model.objects.filter(username="admin").count() == 1


def test_a_scanner_role_member_can_send_events_and_nothing_more():
    api = token_client(UserFactory(username="gitlab-ci", groups=["Scanner"]))
    assert api.post("/api/v1/events/", vulnerability(), format="json").status_code == 201
    assert api.get("/api/v1/events/").status_code == 403
    assert api.get("/api/v1/response-policies/").status_code == 403


def test_rights_given_after_a_token_was_used_apply_to_its_next_request(plain_user):
    api = token_client(plain_user)
    assert api.get("/api/v1/events/").status_code == 403
    grant(plain_user, "events.view_securityevent")
    assert api.get("/api/v1/events/").status_code == 200


def test_repeated_requests_with_one_token_do_not_look_it_up_again(admin_api, django_assert_max_num_queries):
    admin_api.get("/api/v1/events/")
    with django_assert_max_num_queries(3):  # the caller's scopes (roles, scopes) and the events query: no token
        assert admin_api.get("/api/v1/events/").status_code == 200
