"""Credentials inside a webhook URL (user info, query string) are secrets: stored encrypted, shown as ``***`` in the
API, on the screens and in the security event log, and put back into the URL only to send."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from kcs.models import AuditEntry
from notifications.channels import Delivery, channel_for
from notifications.messages import MessageContext
from notifications.models import NotificationIntegration
from notifications.secrets import decrypt
from tests.factories import make_integration, token_client

pytestmark = pytest.mark.django_db

FULL = "https://kcs:hunter2@hooks.example.com/in?token=s3cr3t-q&x=1"
MASKED = "https://***@hooks.example.com/in?***"
CREDENTIALS = ("hunter2", "s3cr3t-q")

HOOK = {"name": "SIEM", "kind": "webhook", "config": {"url": FULL, "auth": "hmac"}, "secrets": {"hmac_secret": "h"}}


def sent_url(integration: NotificationIntegration, fake_http) -> str:
    channel = channel_for(integration)
    channel.send(channel.render(MessageContext.sample(integration, "k")), Delivery(key="k", timestamp=1))
    return fake_http.last["url"]


def assert_no_credentials(text: str) -> None:
    for credential in CREDENTIALS:
        assert credential not in text


@pytest.fixture
def auditor_api(django_user_model):
    user = django_user_model.objects.create_user("auditor", password="pw-auditor-123")
    user.groups.add(Group.objects.get(name="IS auditor"))
    return token_client(user)


def test_url_credentials_are_stored_encrypted_and_shown_masked_everywhere(admin_api, auditor_api, fake_http):
    answer = admin_api.post("/api/v1/integrations/", HOOK, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["config"]["url"] == MASKED
    assert answer.json()["secrets"] == {"hmac_secret": "********", "url_query": "********", "url_userinfo": "********"}
    integration = NotificationIntegration.objects.get(pk=answer.json()["id"])
    assert integration.config["url"] == MASKED
    assert decrypt(integration.secrets_encrypted)["url_query"] == "token=s3cr3t-q&x=1"
    # An Auditor reads the integration and the security event log: no credential in either.
    assert_no_credentials(auditor_api.get(f"/api/v1/integrations/{integration.pk}/").content.decode())
    log = auditor_api.get("/api/v1/audit-log/")
    assert log.status_code == 200 and "hooks.example.com" in log.content.decode()
    assert_no_credentials(log.content.decode())
    # Sending rebuilds the whole URL.
    assert sent_url(integration, fake_http) == FULL


def test_unchanged_masked_url_keeps_the_credentials_through_patch_and_put(admin_api, fake_http):
    ident = admin_api.post("/api/v1/integrations/", HOOK, format="json").json()["id"]
    answer = admin_api.patch(f"/api/v1/integrations/{ident}/", {"config": {"rate_limit": 3}}, format="json")
    assert answer.status_code == 200, answer.json()
    shown = admin_api.get(f"/api/v1/integrations/{ident}/").json()
    # What the API answered, sent back as it is (masks included), changes nothing.
    answer = admin_api.put(f"/api/v1/integrations/{ident}/", shown, format="json")
    assert answer.status_code == 200, answer.json()
    integration = NotificationIntegration.objects.get(pk=ident)
    assert sent_url(integration, fake_http) == FULL
    assert decrypt(integration.secrets_encrypted)["hmac_secret"] == "h"


def test_new_url_credentials_replace_the_old_and_the_log_shows_neither(admin_api, fake_http):
    ident = admin_api.post("/api/v1/integrations/", HOOK, format="json").json()["id"]
    new = "https://kcs:n3w-pass@hooks.example.com/in?key=n3w-key"
    answer = admin_api.patch(f"/api/v1/integrations/{ident}/", {"config": {"url": new}}, format="json")
    assert answer.status_code == 200, answer.json()
    assert sent_url(NotificationIntegration.objects.get(pk=ident), fake_http) == new
    log = str(list(AuditEntry.objects.values_list("changes", flat=True)))
    assert_no_credentials(log)
    assert "n3w-pass" not in log and "n3w-key" not in log
    assert "url_userinfo" in log  # the entry says which secret changed

    answer = admin_api.patch(
        f"/api/v1/integrations/{ident}/", {"config": {"url": "https://hooks.example.com/in"}}, format="json"
    )
    assert answer.json()["secrets"] == {"hmac_secret": "********"}  # no credentials left to keep


def test_masked_url_credentials_do_not_follow_a_new_host(admin_api):
    ident = admin_api.post("/api/v1/integrations/", HOOK, format="json").json()["id"]
    answer = admin_api.patch(
        f"/api/v1/integrations/{ident}/",
        {"config": {"url": "https://***@evil.example/in?***"}, "secrets": {"hmac_secret": "h2"}},
        format="json",
    )
    assert answer.status_code == 400
    (message,) = answer.json()["errors"]["config"]["url"]
    assert "not sent there" in message


def test_a_masked_url_without_stored_credentials_is_refused(admin_api):
    answer = admin_api.post("/api/v1/integrations/", {**HOOK, "config": {"url": MASKED, "auth": "hmac"}}, format="json")
    assert answer.status_code == 400
    assert "enter" in answer.json()["errors"]["config"]["url"][0].lower()


def test_screens_show_the_masked_url_and_an_unchanged_form_keeps_the_credentials(admin_client, admin_api, fake_http):
    ident = admin_api.post("/api/v1/integrations/", HOOK, format="json").json()["id"]
    detail = admin_client.get(f"/integrations/webhook/{ident}/").content.decode()
    edit = admin_client.get(f"/integrations/webhook/{ident}/edit/").content.decode()
    assert "https://***@hooks.example.com/in?***" in detail and "***@hooks.example.com" in edit
    assert_no_credentials(detail + edit)
    answer = admin_client.post(
        f"/integrations/webhook/{ident}/edit/",
        {"name": "SIEM", "enabled": "on", "url": MASKED, "auth": "hmac", "hmac_secret": ""},
    )
    assert answer.status_code == 302
    assert sent_url(NotificationIntegration.objects.get(pk=ident), fake_http) == FULL


def test_migration_moves_url_credentials_of_existing_rows_into_the_secrets(fake_http):
    legacy = make_integration("webhook", "Legacy", config={"url": FULL, "auth": "hmac"}, secrets={"hmac_secret": "h"})
    plain = make_integration("webhook", "Plain")
    AuditEntry.objects.create(
        actor_name="admin",
        action="create",
        object_type="notification integration",
        object_id=str(legacy.pk),
        object_repr="Legacy",
        changes={"config": [None, {"url": FULL, "auth": "hmac"}], "name": [None, "Legacy"]},
        source="api",
    )
    migration = importlib.import_module("notifications.migrations.0006_webhook_url_credentials")
    migration.move_url_credentials(apps, None)

    legacy.refresh_from_db()
    assert legacy.config == {"url": MASKED, "auth": "hmac"}
    assert decrypt(legacy.secrets_encrypted) == {
        "hmac_secret": "h",
        "url_userinfo": "kcs:hunter2",
        "url_query": "token=s3cr3t-q&x=1",
    }
    assert sent_url(legacy, fake_http) == FULL
    plain_before = plain.secrets_encrypted
    plain.refresh_from_db()
    assert plain.config["url"] == "https://hooks.example.com/kcs" and plain.secrets_encrypted == plain_before
    entry = AuditEntry.objects.get(object_id=str(legacy.pk))
    assert entry.changes["config"][1]["url"] == MASKED
    assert_no_credentials(str(entry.changes))


def test_migration_leaves_rows_whose_secrets_it_cannot_read_and_names_them(capsys):
    from cryptography.fernet import Fernet

    unreadable = Fernet(Fernet.generate_key()).encrypt(b"{}").decode()
    row = make_integration("webhook", "Lost key", config={"url": FULL, "auth": "hmac"})
    NotificationIntegration.objects.filter(pk=row.pk).update(secrets_encrypted=unreadable)
    migration = importlib.import_module("notifications.migrations.0006_webhook_url_credentials")
    migration.move_url_credentials(apps, None)
    row.refresh_from_db()
    assert row.secrets_encrypted == unreadable  # nothing destroyed that the right key could still read
    assert row.config["url"] == FULL and "“Lost key”" in capsys.readouterr().out
