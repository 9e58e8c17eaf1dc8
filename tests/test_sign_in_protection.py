"""Sign-in protection and the sign-in entries of the security event log: success, failure, sign-out, lockout,
password changes and resets, from the screens' login and the admin's."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessFailureLog
from django.core import mail
from django.core.management import call_command
from django.db.models import F

from kcs.models import AuditEntry
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


def sign_in(client, username, password, *, ip="203.0.113.7", url="/login/"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return client.get("/tokens/").status_code == 200


def entries(action, **filters):
    return list(AuditEntry.objects.filter(action=action, **filters).order_by("id"))


def test_sign_in_sign_out_and_failure_are_logged_with_user_name_and_address(client):
    UserFactory(username="alice")
    assert sign_in(client, "mallory", WRONG, ip="198.51.100.9").status_code == 200
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.post("/logout/", REMOTE_ADDR="203.0.113.7")

    failure = entries("sign_in_failed")[0]
    assert (failure.actor_name, failure.object_repr, failure.ip_address) == ("mallory", "mallory", "198.51.100.9")
    assert failure.category == "administration"
    (success,) = entries("sign_in")
    (out,) = entries("sign_out")
    assert (success.actor_name, success.ip_address, success.source) == ("alice", "203.0.113.7", "ui")
    assert (out.actor_name, out.ip_address) == ("alice", "203.0.113.7")
    assert not signed_in(client)


def test_sixth_wrong_password_in_a_row_is_refused_even_when_it_is_the_right_one(client):
    UserFactory(username="alice")
    for _ in range(4):
        response = sign_in(client, "alice", WRONG)
        assert response.status_code == 200 and "Please enter a correct username and password" in response.text
    fifth = sign_in(client, "alice", WRONG)
    assert fifth.status_code == 429 and "Sign-in locked" in fifth.text

    sixth = sign_in(client, "alice", PASSWORD)
    assert sixth.status_code == 429
    assert "Sign-in locked: too many failed attempts" in sixth.text
    assert "refused for 15 minutes, even with the right password" in sixth.text
    assert sixth["Retry-After"] == "900"
    assert not signed_in(client)

    assert len(entries("sign_in_failed", object_repr="alice")) == 5
    (lockout,) = entries("locked_out")
    assert (lockout.object_repr, lockout.ip_address) == ("alice", "203.0.113.7")
    assert lockout.changes["failed attempts"] == 5
    (refused,) = entries("sign_in_refused")
    assert refused.changes["attempts"] == 1 and refused.object_repr == "alice"
    assert entries("sign_in") == []


def test_the_log_screen_says_the_account_was_locked(client):
    UserFactory(username="alice")
    for _ in range(6):
        sign_in(client, "alice", WRONG)
    client.force_login(UserFactory(username="auditor", rights=["kcs.view_auditentry"]))
    html = client.get("/security-log/", {"category": "administration", "search": "alice"}).content.decode()
    assert "Locked out" in html and "Sign-in failed" in html and "Sign-in refused" in html
    assert "203.0.113.7" in html


def test_refused_attempts_during_a_lockout_are_counted_in_one_entry(client):
    UserFactory(username="alice")
    for _ in range(5):
        sign_in(client, "alice", WRONG)
    for name in ("alice", "alice", "bob", "carol"):
        assert sign_in(client, name, WRONG).status_code == 429
    (refused,) = entries("sign_in_refused")
    assert refused.changes["attempts"] == 4
    assert refused.changes["user names"] == ["alice", "bob", "carol"]
    assert len(entries("sign_in_failed")) == 5


def test_failures_from_one_address_lock_out_every_user_name_from_it(client):
    UserFactory(username="alice")
    for number in range(5):
        sign_in(client, f"guess{number}", WRONG, ip="198.51.100.20")
    assert sign_in(client, "alice", PASSWORD, ip="198.51.100.20").status_code == 429
    assert sign_in(client, "alice", PASSWORD, ip="198.51.100.21").status_code == 302


def test_failures_for_one_user_name_lock_it_out_from_every_address(client):
    UserFactory(username="alice")
    for number in range(5):
        sign_in(client, "alice", WRONG, ip=f"198.51.100.{number + 1}")
    assert sign_in(client, "alice", PASSWORD, ip="192.0.2.50").status_code == 429
    assert not signed_in(client)


def test_failures_older_than_the_window_do_not_count(client):
    UserFactory(username="alice")
    for _ in range(4):
        sign_in(client, "alice", WRONG)
    AccessFailureLog.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    for _ in range(4):
        assert sign_in(client, "alice", WRONG).status_code == 200
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_a_lockout_ends_after_its_time(client):
    UserFactory(username="alice")
    for _ in range(6):
        sign_in(client, "alice", WRONG)
    AccessFailureLog.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=14))
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    AccessFailureLog.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=2))
    assert sign_in(client, "alice", PASSWORD).status_code == 302


@pytest.mark.parametrize("command", ["axes_reset_username alice", "axes_reset_ip 203.0.113.7", "axes_reset"])
def test_an_administrator_lifts_a_lockout_with_a_command(client, command, capsys):
    UserFactory(username="alice")
    for _ in range(6):
        sign_in(client, "alice", WRONG)
    call_command(*command.split())
    capsys.readouterr()
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_limit_window_and_lockout_come_from_the_settings(client, settings):
    settings.KCS_LOGIN_FAILURE_LIMIT = 2
    settings.KCS_LOGIN_FAILURE_WINDOW = 60
    settings.KCS_LOGIN_LOCKOUT_MINUTES = 90
    UserFactory(username="alice")
    assert sign_in(client, "alice", WRONG).status_code == 200
    AccessFailureLog.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=30))
    second = sign_in(client, "alice", WRONG)
    assert second.status_code == 429 and "refused for 90 minutes" in second.text
    AccessFailureLog.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=80))
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    assert sign_in(client, "alice", PASSWORD)["Retry-After"] == str(90 * 60)


def test_the_admin_login_is_protected_and_logged_too(client):
    UserFactory(username="root", superuser=True)
    for _ in range(5):
        sign_in(client, "root", WRONG, url="/admin/login/")
    response = sign_in(client, "root", PASSWORD, url="/admin/login/")
    assert response.status_code == 429 and "Sign-in locked" in response.text
    assert client.get("/admin/").status_code == 302  # still not signed in
    assert {entry.source for entry in entries("sign_in_failed")} == {"admin"}
    assert len(entries("locked_out")) == 1


def test_a_password_change_is_logged(client):
    alice = UserFactory(username="alice")
    client.force_login(alice)
    response = client.post(
        "/password/change/",
        {"old_password": PASSWORD, "new_password1": "A-much-longer-pass-42", "new_password2": "A-much-longer-pass-42"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    (change,) = entries("password_change")
    assert (change.actor_name, change.object_repr, change.ip_address) == ("alice", "alice", "203.0.113.7")


def test_an_administrator_changing_a_password_in_the_admin_is_logged(client):
    root = UserFactory(username="root", superuser=True)
    bob = UserFactory(username="bob")
    client.force_login(root)
    response = client.post(
        f"/admin/auth/user/{bob.pk}/password/",
        {"password1": "A-much-longer-pass-42", "password2": "A-much-longer-pass-42", "usable_password": "true"},
    )
    assert response.status_code == 302
    (change,) = entries("password_change")
    assert (change.actor_name, change.object_repr, change.source) == ("root", "bob", "admin")


def test_a_password_reset_is_logged(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    UserFactory(username="alice", email="alice@example.com")
    client.post("/password/reset/", {"email": "alice@example.com"})
    link = re.search(r"/password/reset/[^/\s]+/[^/\s]+/", mail.outbox[0].body).group(0)
    form = client.get(link, follow=True)
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "A-much-longer-pass-42", "new_password2": "A-much-longer-pass-42"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    (reset,) = entries("password_reset")
    assert (reset.actor_name, reset.object_repr, reset.ip_address) == ("alice", "alice", "203.0.113.7")
    assert entries("password_change") == []
