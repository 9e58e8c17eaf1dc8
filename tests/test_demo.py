"""The demo loader sets up a working product: its events reach its policies and the email output."""

import pytest
from django.core import mail
from django.core.management import call_command

from notifications.models import Notification, NotificationStatus
from policies.models import ResponsePolicy

pytestmark = pytest.mark.django_db


def test_demo_data_notifies_each_policy_once_and_loads_only_once(django_capture_on_commit_callbacks, capsys):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", "--recipient", "soc@example.com")
    assert ResponsePolicy.objects.count() == 3
    sent = Notification.objects.filter(status=NotificationStatus.SENT)
    assert sorted(sent.values_list("policy_name", flat=True)) == [
        "Critical vulnerabilities in shop images",
        "Leaked secrets anywhere",
        "Runtime threats in production",
    ]
    assert len(mail.outbox) == 3 and all(m.to == ["soc@example.com"] for m in mail.outbox)
    critical = next(m for m in mail.outbox if "Critical vulnerabilities" in m.body)
    assert "CVE-2024-45491" in critical.body and "CVE-2023-5678" not in critical.body  # only critical ones

    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo")
    assert ResponsePolicy.objects.count() == 3 and len(mail.outbox) == 3
    assert "0 new events (6 already there)" in capsys.readouterr().out
