"""The integration pages and the delivery log as a person uses them (Django's test client, no JavaScript)."""

from __future__ import annotations

import pytest

from kcs.models import AuditEntry
from notifications.models import Notification, NotificationIntegration
from tests.factories import grant, make_batch, make_integration, make_policy
from tests.helpers import response

pytestmark = pytest.mark.django_db


def test_integrations_index_lists_every_output_type(admin_client):
    make_integration("telegram", "On-call chat")
    page = admin_client.get("/integrations/").content.decode()
    for label in ("Email", "Telegram", "Webhook", "Slack", "Microsoft Teams", "SIEM (syslog CEF)"):
        assert label in page
    assert "On-call chat" in page and 'href="/integrations/webhook/add/"' in page


def test_kind_page_lists_its_integrations_with_destination_and_usage(admin_client):
    hook = make_integration("webhook", "SIEM hook")
    make_integration("slack", "Team chat")
    make_policy("Criticals", [hook])
    page = admin_client.get("/integrations/webhook/").content.decode()
    assert "SIEM hook" in page and "Team chat" not in page
    assert "hooks.example.com" in page and "1 policy" in page
    assert admin_client.get("/integrations/pager/").status_code == 404


def test_add_webhook_through_the_form(admin_client):
    answer = admin_client.post(
        "/integrations/webhook/add/",
        {
            "name": "SOAR",
            "enabled": "on",
            "url": "https://soar.example.com/hook",
            "auth": "token",
            "header_name": "X-API-Key",
            "token": "tok-123456",
            "body_template": "",
            "rate_limit": "",
        },
    )
    integration = NotificationIntegration.objects.get(name="SOAR")
    assert answer.status_code == 302 and answer["Location"] == f"/integrations/webhook/{integration.pk}/"
    assert integration.config["auth"] == "token" and integration.config["header_name"] == "X-API-Key"
    detail = admin_client.get(answer["Location"]).content.decode()
    assert "tok-123456" not in detail and "********" in detail and "soar.example.com" in detail
    assert AuditEntry.objects.get(action="create", object_id=str(integration.pk)).source == "ui"


def test_invalid_form_shows_field_errors_and_saves_nothing(admin_client):
    answer = admin_client.post("/integrations/telegram/add/", {"name": "", "chat_id": "soc", "bot_token": ""})
    page = answer.content.decode()
    assert answer.status_code == 400
    assert "This field is required." in page and "Enter a numeric chat ID" in page
    assert not NotificationIntegration.objects.exists()


def test_edit_keeps_a_secret_left_blank(admin_client):
    chat = make_integration("telegram", "Chat")
    form = admin_client.get(f"/integrations/telegram/{chat.pk}/edit/").content.decode()
    assert "ABCdef" not in form and "Leave blank to keep it." in form
    answer = admin_client.post(
        f"/integrations/telegram/{chat.pk}/edit/",
        {"name": "Chat", "enabled": "on", "chat_id": "-100200", "thread_id": "", "api_base_url": "", "bot_token": ""},
    )
    assert answer.status_code == 302
    chat.refresh_from_db()
    from notifications.secrets import decrypt

    assert chat.config["chat_id"] == "-100200" and decrypt(chat.secrets_encrypted)["bot_token"].startswith("123456:")
    assert chat.config["api_base_url"] == "https://api.telegram.org"


def test_email_form_with_own_smtp_server(admin_client):
    answer = admin_client.post(
        "/integrations/email/add/",
        {
            "name": "Mail",
            "enabled": "on",
            "recipients": "a@example.com, b@example.com",
            "sender": "",
            "smtp_mode": "custom",
            "smtp_host": "smtp.example.com",
            "smtp_port": "587",
            "smtp_tls": "starttls",
            "smtp_username": "kcs",
            "smtp_password": "pw",
        },
    )
    assert answer.status_code == 302
    mail = NotificationIntegration.objects.get(name="Mail")
    assert mail.config == {
        "recipients": ["a@example.com", "b@example.com"],
        "sender": "",
        "smtp": {"host": "smtp.example.com", "port": 587, "tls": "starttls", "username": "kcs"},
    }


def test_delete_is_refused_naming_the_policies_then_allowed(admin_client):
    hook = make_integration("webhook", "Hook")
    policy = make_policy("Prod criticals", [hook])
    confirm = admin_client.get(f"/integrations/webhook/{hook.pk}/delete/").content.decode()
    assert "cannot be deleted" in confirm and "“Prod criticals”" in confirm
    refused = admin_client.post(f"/integrations/webhook/{hook.pk}/delete/")
    assert refused.status_code == 409 and "“Prod criticals”" in refused.content.decode()
    policy.delete()
    answer = admin_client.post(f"/integrations/webhook/{hook.pk}/delete/", follow=True)
    assert "Integration “Hook” deleted." in answer.content.decode()
    assert not NotificationIntegration.objects.filter(pk=hook.pk).exists()


def test_test_button_shows_the_result(admin_client, fake_http):
    hook = make_integration("webhook", "Hook")
    fake_http.answers.append(response(401, "bad token"))
    page = admin_client.post(
        f"/integrations/webhook/{hook.pk}/test/", {"next": "/integrations/webhook/"}, follow=True
    ).content.decode()
    assert "Test of “Hook”: Webhook hooks.example.com answered HTTP 401: bad token" in page
    partial = admin_client.post(f"/integrations/webhook/{hook.pk}/test/", HTTP_HX_REQUEST="true").content.decode()
    assert "test OK" in partial and "<html" not in partial


def test_screens_need_rights(client, plain_user):
    hook = make_integration("webhook")
    assert client.get("/integrations/")["Location"].startswith("/login/")
    client.force_login(plain_user)
    assert client.get("/integrations/").status_code == 403
    assert client.get("/notifications/").status_code == 403
    grant(plain_user, "notifications.view_notificationintegration")
    page = client.get(f"/integrations/webhook/{hook.pk}/").content.decode()
    assert "Edit</a>" not in page and ">Test</button>" not in page
    assert client.post(f"/integrations/webhook/{hook.pk}/test/").status_code == 403
    assert client.get(f"/integrations/webhook/{hook.pk}/edit/").status_code == 403


def test_delivery_log_shows_each_message_and_filters(admin_client):
    hook, chat = make_integration("webhook", "Hook"), make_integration("telegram", "Chat")
    policy = make_policy("Criticals", [hook, chat])
    batch = make_batch(3)
    sent = Notification.objects.create(
        policy=policy,
        policy_name="Criticals",
        integration=hook,
        integration_name="Hook",
        status="sent",
        attempts=1,
        idempotency_key="a",
    )
    sent.events.set(batch.events.all())
    Notification.objects.create(
        policy=policy,
        policy_name="Criticals",
        integration=chat,
        integration_name="Chat",
        status="failed",
        attempts=1,
        idempotency_key="b",
        last_error="Telegram answered HTTP 400: Bad Request: chat not found",
    )
    page = admin_client.get("/notifications/").content.decode()
    assert "chat not found" in page and "Retry</button>" in page and page.count('class="badge badge-') >= 2
    filtered = admin_client.get("/notifications/", {"status": "sent"}).content.decode()
    assert "chat not found" not in filtered and "Hook" in filtered
    assert "chat not found" not in admin_client.get("/notifications/", {"integration": hook.pk}).content.decode()
    detail = admin_client.get(f"/notifications/{sent.pk}/").content.decode()
    assert "Events (3)" in detail and "CVE-2024-1000" in detail and "Criticals" in detail


def test_retry_button_queues_a_failed_notification(admin_client, fake_http, django_capture_on_commit_callbacks):
    hook = make_integration("webhook", "Hook")
    failed = Notification.objects.create(
        integration=hook, integration_name="Hook", status="failed", idempotency_key="f"
    )
    failed.events.set(make_batch(1).events.all())
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(f"/notifications/{failed.pk}/retry/", {"next": "/notifications/"}, follow=True)
    assert f"Notification #{failed.pk} queued to be sent again." in answer.content.decode()
    failed.refresh_from_db()
    assert failed.status == "sent"
    again = admin_client.post(f"/notifications/{failed.pk}/retry/", follow=True).content.decode()
    assert "only a failed notification can be retried" in again


def test_delivery_log_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    hook = make_integration("webhook", "Hook")
    for index in range(30):
        Notification.objects.create(integration=hook, integration_name="Hook", idempotency_key=f"k{index}")
    with django_assert_max_num_queries(12):
        assert admin_client.get("/notifications/").status_code == 200


def test_changing_the_webhook_host_on_screen_asks_for_the_secret_again(admin_client):
    hook = make_integration("webhook", "Hook")
    data = {"name": "Hook", "enabled": "on", "url": "https://elsewhere.example/kcs", "auth": "hmac", "hmac_secret": ""}
    answer = admin_client.post(f"/integrations/webhook/{hook.pk}/edit/", data)
    assert answer.status_code == 400
    assert (
        "The URL&#x27;s scheme, host or port changed, so the stored HMAC secret is not sent there"
        in answer.content.decode()
    )
    hook.refresh_from_db()
    assert hook.config["url"] == "https://hooks.example.com/kcs"
    answer = admin_client.post(f"/integrations/webhook/{hook.pk}/edit/", {**data, "hmac_secret": "new-secret"})
    assert answer.status_code == 302
