"""Event uids are idempotency keys per submitting account: one scanner cannot pre-empt another's uid."""

import json

import pytest

from events import services
from events.models import SecurityEvent
from tests.factories import falco_alert, grant, token_client, vulnerability

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


@pytest.fixture
def other_scanner_api(django_user_model):
    user = django_user_model.objects.create_user("other-scanner", password="pw-scan-456")
    grant(user, "events.add_securityevent", "events.view_securityevent")
    return token_client(user)


def test_the_same_uid_from_the_same_account_is_a_duplicate(scanner_api):
    first = scanner_api.post(URL, vulnerability(uid="run-1/CVE-1"), format="json").json()
    again = scanner_api.post(URL, vulnerability(uid="run-1/CVE-1"), format="json")
    assert again.status_code == 200
    assert again.json()["ids"] == first["ids"] and again.json()["duplicate_indexes"] == [0]
    assert SecurityEvent.objects.count() == 1


def test_another_account_cannot_pre_empt_a_uid(scanner_api, other_scanner_api, scanner_user):
    squatted = other_scanner_api.post(URL, vulnerability(uid="run-1/CVE-1", severity="low"), format="json")
    assert squatted.status_code == 201
    real = scanner_api.post(URL, vulnerability(uid="run-1/CVE-1"), format="json")
    assert real.status_code == 201, real.content
    assert real.json()["created"] == 1 and real.json()["duplicates"] == 0
    event = SecurityEvent.objects.get(pk=real.json()["ids"][0])
    assert (event.severity_slug, event.created_by) == ("critical", scanner_user)
    assert SecurityEvent.objects.filter(uid="run-1/CVE-1").count() == 2


def test_uids_are_scoped_per_account_for_large_batches_too(scanner_api, other_scanner_api):
    items = [vulnerability(uid=f"run-1/{i}", finding_id=f"CVE-{i}") for i in range(120)]  # the COPY path
    assert other_scanner_api.post(URL, items, format="json").json()["created"] == 120
    mine = scanner_api.post(URL, items, format="json").json()
    assert (mine["created"], mine["duplicates"]) == (120, 0)
    again = scanner_api.post(URL, items, format="json").json()
    assert (again["created"], again["duplicates"]) == (0, 120) and again["ids"] == mine["ids"]


def test_native_reports_are_idempotent_per_account(scanner_api, other_scanner_api):
    body = "\n".join(json.dumps(falco_alert(n)) for n in range(3)).encode()
    url = "/api/v1/ingest/falco/"
    assert other_scanner_api.generic("POST", url, body, content_type="application/json").json()["created"] == 3
    assert scanner_api.generic("POST", url, body, content_type="application/json").json()["created"] == 3
    assert scanner_api.generic("POST", url, body, content_type="application/json").json()["duplicates"] == 3


def test_the_migration_gives_stored_events_their_batch_account(scanner_user):
    from importlib import import_module

    from django.apps import apps

    services.ingest([vulnerability(uid="old-1"), vulnerability(uid="old-2")], source="api", user=scanner_user)
    services.ingest([vulnerability(uid="old-3")], source="api")
    SecurityEvent.objects.update(created_by=None)  # as stored before the migration
    import_module("events.migrations.0003_uid_per_account").copy_senders(apps, None)
    owners = dict(SecurityEvent.objects.values_list("uid", "created_by"))
    assert owners == {"old-1": scanner_user.pk, "old-2": scanner_user.pk, "old-3": None}
