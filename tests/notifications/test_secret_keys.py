"""KCS_ENCRYPTION_KEY holds one or more keys (the first encrypts, all decrypt); ``rotate_secrets`` re-encrypts with
the first; secrets no key can read are said to be unreadable on the page and in the API; PostgreSQL with a key
generated into var/ gets a start-up warning."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from notifications.models import NotificationIntegration
from notifications.secrets import decrypt, encrypt
from tests.factories import make_integration

OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))
UNREADABLE = "Secret unreadable, enter it again"


@pytest.mark.django_db
def test_secrets_under_an_older_key_stay_readable_and_new_ones_use_the_first_key(settings):
    settings.KCS_ENCRYPTION_KEY = OLD
    old_token = encrypt({"token": "t"})
    settings.KCS_ENCRYPTION_KEY = f"{NEW}, {OLD}"
    assert decrypt(old_token) == {"token": "t"}
    new_token = encrypt({"token": "u"})
    settings.KCS_ENCRYPTION_KEY = NEW
    assert decrypt(new_token) == {"token": "u"}


@pytest.mark.django_db
def test_rotate_secrets_re_encrypts_every_integration_with_the_first_key(settings, capsys):
    settings.KCS_ENCRYPTION_KEY = OLD
    hook, chat = make_integration("webhook", "Hook"), make_integration("telegram", "Chat")
    make_integration("syslog", "SIEM")  # no secrets: nothing to re-encrypt
    settings.KCS_ENCRYPTION_KEY = f"{NEW},{OLD}"
    call_command("rotate_secrets")
    assert "Re-encrypted the secrets of 2 integrations with the first key" in capsys.readouterr().out
    settings.KCS_ENCRYPTION_KEY = NEW  # the old key can go now
    for integration in (hook, chat):
        integration.refresh_from_db()
        assert decrypt(integration.secrets_encrypted)


@pytest.mark.django_db
def test_rotate_secrets_names_the_integrations_no_key_can_read(settings, capsys):
    settings.KCS_ENCRYPTION_KEY = OTHER
    make_integration("webhook", "Lost")
    settings.KCS_ENCRYPTION_KEY = NEW
    make_integration("telegram", "Fine")
    with pytest.raises(CommandError) as failure:
        call_command("rotate_secrets")
    assert "“Lost”" in str(failure.value) and "enter" in str(failure.value)
    assert "Re-encrypted the secrets of 1 integration with the first key" in capsys.readouterr().out


@pytest.fixture
def unreadable(settings):
    settings.KCS_ENCRYPTION_KEY = OTHER
    integration = make_integration("webhook", "Lost")
    settings.KCS_ENCRYPTION_KEY = NEW
    return integration


@pytest.mark.django_db
def test_the_api_says_when_secrets_are_unreadable(admin_api, unreadable):
    data = admin_api.get(f"/api/v1/integrations/{unreadable.pk}/").json()
    assert data["secrets_unreadable"] is True and data["secrets_error"].startswith(UNREADABLE)
    fine = admin_api.get(f"/api/v1/integrations/{make_integration('telegram').pk}/").json()
    assert fine["secrets_unreadable"] is False and fine["secrets_error"] is None


@pytest.mark.django_db
def test_the_pages_say_when_secrets_are_unreadable(admin_client, unreadable):
    detail = admin_client.get(f"/integrations/webhook/{unreadable.pk}/").content.decode()
    assert UNREADABLE in detail
    edit = admin_client.get(f"/integrations/webhook/{unreadable.pk}/edit/").content.decode()
    assert UNREADABLE in edit
    answer = admin_client.post(
        f"/integrations/webhook/{unreadable.pk}/edit/",
        {"name": "Lost", "enabled": "on", "url": "https://hooks.example.com/kcs", "auth": "hmac", "hmac_secret": ""},
    )
    assert answer.status_code == 400 and UNREADABLE in answer.content.decode()


@pytest.mark.django_db
def test_delivery_through_unreadable_secrets_fails_saying_so(unreadable, fake_http):
    from notifications.channels import Delivery, TransportError, channel_for
    from notifications.messages import MessageContext

    channel = channel_for(unreadable)
    with pytest.raises(TransportError) as failure:
        channel.send(channel.render(MessageContext.sample(unreadable, "k")), Delivery(key="k", timestamp=1))
    assert failure.value.permanent and failure.value.message.startswith(UNREADABLE)
    assert fake_http.calls == []


@pytest.mark.parametrize("generated,engine,warned", [(True, "postgresql", True), (False, "postgresql", False)])
def test_postgresql_with_a_key_generated_into_var_warns_at_start(settings, caplog, generated, engine, warned):
    from django.core import checks

    from kcs.checks import warn_at_start

    settings.KCS_ENCRYPTION_KEY_GENERATED = generated
    found = [message.id for message in checks.run_checks(tags=[checks.Tags.security])]
    assert ("kcs.W001" in found) is warned
    with caplog.at_level(logging.WARNING):
        warn_at_start()
    assert ("KCS_ENCRYPTION_KEY" in caplog.text) is warned


def test_sqlite_keeps_the_generated_key_beside_the_database_without_a_warning():
    from kcs.checks import key_beside_the_data

    assert key_beside_the_data("django.db.backends.postgresql", generated=True)
    assert not key_beside_the_data("django.db.backends.sqlite3", generated=True)
    assert not key_beside_the_data("django.db.backends.postgresql", generated=False)


@pytest.mark.parametrize("value,ok", [(f"{NEW},{OLD}", True), (f"{NEW},not-a-key", False)])
def test_encryption_key_list_is_checked_at_start(tmp_path, value, ok):
    from django.conf import settings

    env = {**os.environ, "KCS_VAR_DIR": str(tmp_path), "KCS_ENCRYPTION_KEY": value}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert (result.returncode == 0) is ok, result.stderr[-2000:]
    if not ok:
        assert "KCS_ENCRYPTION_KEY" in result.stderr and "not-a-key" not in result.stderr


@pytest.mark.django_db
def test_unreadable_integration_still_lists(admin_api, unreadable):
    assert NotificationIntegration.objects.count() == 1
    assert admin_api.get("/api/v1/integrations/").json()["results"][0]["secrets_unreadable"] is True
