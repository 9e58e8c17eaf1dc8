"""``/api/v1/silences/``: create, read, filter, new versions, expiry, bad input and rights."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kcs.models import AuditEntry
from policies.models import Silence
from tests.factories import SilenceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/silences/"


def body(**fields) -> dict:
    return {
        "matchers": {"repository": "shop/*", "max_severity": "high"},
        "duration": "4h",
        "comment": "Base image rebuild scheduled for Friday",
    } | fields


def test_officer_creates_a_silence_and_it_is_logged(officer_api, make_policy):
    policy = make_policy()
    answer = officer_api.post(URL, body(policies=[policy.pk]), format="json")
    assert answer.status_code == 201, answer.content
    data = answer.json()
    assert data["state"] == "active" and data["matchers"] == {"repository": "shop/*", "max_severity": "high"}
    assert data["policies"] == [policy.pk] and data["created_by"] == "officer" and data["replaces"] is None
    stored = Silence.objects.get(pk=data["id"])
    assert timedelta(hours=3, minutes=59) < stored.ends_at - stored.starts_at <= timedelta(hours=4)
    entry = AuditEntry.objects.get(object_type="silence", object_id=str(stored.pk))
    assert entry.action == "create" and entry.source == "api" and entry.actor_name == "officer"
    assert entry.changes["comment"] == [None, "Base image rebuild scheduled for Friday"]


def test_a_silence_may_start_later_and_end_at_a_given_time(officer_api):
    starts = timezone.now() + timedelta(days=1)
    answer = officer_api.post(
        URL,
        body(duration=None, starts_at=starts.isoformat(), ends_at=(starts + timedelta(hours=2)).isoformat()),
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["state"] == "pending"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"comment": ""}, "comment"),
        ({"comment": None}, "comment"),
        ({"duration": None, "ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
        ({"duration": None, "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
        ({"matchers": {"colour": "red"}}, "matchers"),
        ({"matchers": {"max_severity": "apocalyptic"}}, "matchers"),
        ({"matchers": {"repository": ["shop/*"]}}, "matchers"),
        ({"matchers": {"tag": 5}}, "matchers"),
        ({"matchers": "repository=shop/*"}, "matchers"),
        ({"matchers": {}}, "matchers"),
        ({"policies": [987654]}, "policies"),
        ({"policies": "all"}, "policies"),
        ({"duration": "a while"}, "duration"),
        ({"starts_at": "next tuesday"}, "starts_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(officer_api, fields, field):
    answer = officer_api.post(URL, body(**fields), format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"], answer.json()
    assert not Silence.objects.exists() and not AuditEntry.objects.filter(object_type="silence").exists()


def test_unknown_matcher_field_is_named_in_the_message(officer_api):
    answer = officer_api.post(URL, body(matchers={"colour": "red"}), format="json")
    assert "colour" in answer.json()["errors"]["matchers"][0]


def test_patch_stores_a_new_version_and_expires_the_old_one(officer_api):
    first = officer_api.post(URL, body(), format="json").json()
    answer = officer_api.patch(f"{URL}{first['id']}/", {"matchers": {"repository": "shop/web"}}, format="json")
    assert answer.status_code == 200, answer.content
    second = answer.json()
    assert second["id"] != first["id"] and second["replaces"] == first["id"]
    assert second["matchers"] == {"repository": "shop/web"} and second["comment"] == first["comment"]
    assert second["state"] == "active"
    old = officer_api.get(f"{URL}{first['id']}/").json()
    assert old["state"] == "expired" and old["replaced_by"] == second["id"] and old["expired_at"]
    # The old version cannot be edited again: the newest one can.
    again = officer_api.patch(f"{URL}{first['id']}/", {"comment": "x"}, format="json")
    assert again.status_code == 400 and "non_field_errors" in again.json()["errors"]


def test_put_replaces_the_whole_silence_as_a_new_version(officer_api):
    first = officer_api.post(URL, body(), format="json").json()
    answer = officer_api.put(
        f"{URL}{first['id']}/",
        {"matchers": {"finding_id": "CVE-2026-*"}, "duration": "2d", "comment": "new"},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["matchers"] == {"finding_id": "CVE-2026-*"} and answer.json()["replaces"] == first["id"]


def test_bad_edit_stores_nothing_and_keeps_the_old_version_active(officer_api):
    first = officer_api.post(URL, body(), format="json").json()
    answer = officer_api.patch(f"{URL}{first['id']}/", {"comment": ""}, format="json")
    assert answer.status_code == 400 and "comment" in answer.json()["errors"]
    assert Silence.objects.count() == 1 and officer_api.get(f"{URL}{first['id']}/").json()["state"] == "active"


def test_delete_expires_and_keeps_the_row(officer_api):
    first = officer_api.post(URL, body(), format="json").json()
    assert officer_api.delete(f"{URL}{first['id']}/").status_code == 204
    kept = officer_api.get(f"{URL}{first['id']}/")
    assert kept.status_code == 200 and kept.json()["state"] == "expired"
    assert AuditEntry.objects.filter(object_type="silence", object_id=str(first["id"]), action="update").exists()


def test_expire_action_ends_the_silence_now(officer_api):
    first = officer_api.post(URL, body(), format="json").json()
    answer = officer_api.post(f"{URL}{first['id']}/expire/")
    assert answer.status_code == 200 and answer.json()["state"] == "expired"
    entry = AuditEntry.objects.get(object_type="silence", action="update")
    assert entry.changes["state"] == ["active", "expired"]


def test_list_filters_by_state_and_searches_comments_and_matchers(officer_api):
    now = timezone.now()
    active = SilenceFactory(comment="openssl noise", matchers={"repository": "shop/*"})
    pending = SilenceFactory(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2), comment="later")
    expired = SilenceFactory(starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1), comment="gone")

    def ids(**params):
        answer = officer_api.get(URL, params)
        assert answer.status_code == 200
        return {row["id"] for row in answer.json()["results"]}

    assert ids() == {active.pk, pending.pk, expired.pk}
    assert ids(state="active") == {active.pk}
    assert ids(state="pending") == {pending.pk}
    assert ids(state="expired") == {expired.pk}
    assert ids(state="current") == {active.pk, pending.pk}
    assert ids(search="OPENSSL") == {active.pk}
    assert ids(search="shop/") == {active.pk}


def test_auditor_reads_but_cannot_write(auditor_api):
    silence = SilenceFactory()
    assert auditor_api.get(URL).status_code == 200
    assert auditor_api.get(f"{URL}{silence.pk}/").status_code == 200
    assert auditor_api.post(URL, body(), format="json").status_code == 403
    assert auditor_api.patch(f"{URL}{silence.pk}/", {"comment": "x"}, format="json").status_code == 403
    assert auditor_api.delete(f"{URL}{silence.pk}/").status_code == 403
    assert auditor_api.post(f"{URL}{silence.pk}/expire/").status_code == 403
    assert Silence.objects.count() == 1


def test_without_rights_everything_is_refused(plain_api, client):
    silence = SilenceFactory()
    assert plain_api.get(URL).status_code == 403
    assert plain_api.get(f"{URL}{silence.pk}/").status_code == 403
    assert plain_api.post(URL, body(), format="json").status_code == 403
    assert client.get(URL).status_code == 401


def test_silences_are_in_the_openapi_schema(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/silences/" in schema and "/api/v1/silences/{id}/expire/" in schema
