"""The security events API as a scanner or CI job uses it."""

import pytest
from rest_framework.test import APIClient

from events.models import EventBatch, SecurityEvent, Severity
from tests.factories import grant, token_client, vulnerability

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def test_posting_one_event_stores_it_and_returns_its_id(scanner_api):
    response = scanner_api.post(URL, vulnerability(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["received"] == 1 and body["created"] == 1 and body["duplicates"] == 0
    event = SecurityEvent.objects.get(pk=body["ids"][0])
    assert event.severity == Severity.CRITICAL
    assert event.finding_id == "CVE-2023-0286"
    assert event.batch_id is not None and str(event.batch_id) == body["batch"]
    assert len(event.fingerprint) == 64


def test_posting_a_list_stores_all_in_one_batch(scanner_api):
    items = [vulnerability(finding_id=f"CVE-2024-{i:04d}") for i in range(250)]
    response = scanner_api.post(URL, items, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["created"] == 250
    assert SecurityEvent.objects.count() == 250
    assert EventBatch.objects.get().created == 250
    assert sorted(body["ids"]) == sorted(SecurityEvent.objects.values_list("id", flat=True))


def test_one_bad_item_rejects_the_whole_request_naming_index_and_field(scanner_api):
    items = [vulnerability(), vulnerability(severity="catastrophic"), vulnerability(title="")]
    response = scanner_api.post(URL, items, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "severity" in body["errors"]["1"]
    assert "title" in body["errors"]["2"]
    assert body["invalid_count"] == 2
    assert "item 1" in body["detail"]
    assert SecurityEvent.objects.count() == 0
    assert EventBatch.objects.count() == 0


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"type": "virus"}, "type"),
        ({"type": None}, "type"),
        ({"severity": 5}, "severity"),
        ({"cvss": 11}, "cvss"),
        ({"cvss": "high"}, "cvss"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"details": ["not", "an", "object"]}, "details"),
        ({"repository": "x" * 300}, "repository"),
        ({"uid": 42}, "uid"),
        ({"source": "Has Spaces"}, "source"),
        ({"package": "lib\u0000c"}, "package"),
        ({"title": "bad\u0000title"}, "title"),
        ({"details": {"Fix": {"versions": ["1.0\u0000"]}}}, "details"),
    ],
)
def test_bad_fields_get_field_level_messages(scanner_api, overrides, field):
    response = scanner_api.post(URL, vulnerability(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert SecurityEvent.objects.count() == 0


def test_body_that_is_not_an_event_is_a_clear_400(scanner_api):
    for payload in ("just text", 42, []):
        response = scanner_api.post(URL, payload, format="json")
        assert response.status_code == 400, payload
        assert response.json()["errors"]["non_field_errors"]


def test_malformed_json_is_a_400_not_a_500(scanner_api):
    response = scanner_api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_more_than_the_limit_is_refused(scanner_api, settings):
    settings.KCS_MAX_EVENTS_PER_REQUEST = 3
    response = scanner_api.post(URL, [vulnerability()] * 4, format="json")
    assert response.status_code == 400
    assert "At most 3" in response.json()["errors"]["non_field_errors"][0]


def test_repeated_uid_does_not_create_a_second_event(scanner_api):
    first = scanner_api.post(URL, vulnerability(uid="build-7/CVE-2023-0286"), format="json").json()
    again = scanner_api.post(
        URL, [vulnerability(uid="build-7/CVE-2023-0286"), vulnerability(uid="build-7/other")], format="json"
    )
    assert again.status_code == 201
    body = again.json()
    assert body["created"] == 1 and body["duplicates"] == 1
    assert body["duplicate_indexes"] == [0]
    assert body["ids"][0] == first["ids"][0]
    assert SecurityEvent.objects.count() == 2


def test_everything_already_known_answers_200_and_stores_no_batch(scanner_api):
    scanner_api.post(URL, vulnerability(uid="u-1"), format="json")
    response = scanner_api.post(URL, vulnerability(uid="u-1"), format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 0 and response.json()["batch"] is None
    assert EventBatch.objects.count() == 1


def test_uid_repeated_inside_one_request_is_stored_once(scanner_api):
    response = scanner_api.post(URL, [vulnerability(uid="dup"), vulnerability(uid="dup")], format="json")
    body = response.json()
    assert body["created"] == 1 and body["duplicates"] == 1
    assert body["ids"][0] == body["ids"][1]


def test_same_finding_on_same_resource_has_the_same_fingerprint(scanner_api):
    ids = scanner_api.post(
        URL, [vulnerability(), vulnerability(title="reworded"), vulnerability(tag="2.3.2")], format="json"
    ).json()["ids"]
    a, b, c = (SecurityEvent.objects.get(pk=i).fingerprint for i in ids)
    assert a == b
    assert a != c


def test_storing_a_batch_schedules_its_evaluation(scanner_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = scanner_api.post(URL, vulnerability(), format="json")
    assert len(callbacks) == 1
    event = SecurityEvent.objects.get(pk=response.json()["ids"][0])
    assert event.evaluated_at is not None  # the (eager) evaluation ran after commit


def test_without_token_is_401(scanner_user):
    response = APIClient().post(URL, vulnerability(), format="json")
    assert response.status_code == 401
    response = APIClient().get(URL)
    assert response.status_code == 401


def test_unknown_or_expired_token_is_401(scanner_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token kcs_not-a-real-key")
    assert client.get(URL).status_code == 401


def test_token_without_the_right_is_403(plain_user):
    client = token_client(plain_user)
    assert client.post(URL, vulnerability(), format="json").status_code == 403
    assert client.get(URL).status_code == 403


def test_reader_cannot_post(django_user_model):
    reader = django_user_model.objects.create_user("reader")
    grant(reader, "events.view_securityevent")
    client = token_client(reader)
    assert client.get(URL).status_code == 200
    assert client.post(URL, vulnerability(), format="json").status_code == 403


def test_oversized_body_is_413(scanner_api, settings):
    settings.KCS_MAX_BODY_BYTES = 2048
    response = scanner_api.post(URL, [vulnerability()] * 20, format="json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert SecurityEvent.objects.count() == 0


def test_list_is_newest_first_and_filterable(scanner_api):
    scanner_api.post(
        URL,
        [
            vulnerability(severity="low", finding_id="CVE-1", repository="shop/web"),
            vulnerability(severity="high", finding_id="CVE-2", repository="shop/api", cluster="prod-eu"),
            vulnerability(
                type="runtime",
                severity="critical",
                finding_id="Terminal shell in container",
                repository="",
                namespace="payments",
                title="Shell spawned",
            ),
        ],
        format="json",
    )

    def ids(**params):
        response = scanner_api.get(URL, params)
        assert response.status_code == 200, response.content
        return [e["finding_id"] for e in response.json()["results"]]

    assert ids() == ["Terminal shell in container", "CVE-2", "CVE-1"]
    assert ids(type="vulnerability") == ["CVE-2", "CVE-1"]
    assert ids(severity="high") == ["CVE-2"]
    assert ids(min_severity="high") == ["Terminal shell in container", "CVE-2"]
    assert ids(repository="shop/*") == ["CVE-2", "CVE-1"]
    assert ids(repository="shop/api") == ["CVE-2"]
    assert ids(cluster="prod-eu") == ["CVE-2"]
    assert ids(namespace="payments") == ["Terminal shell in container"]
    assert ids(finding_id="CVE-1") == ["CVE-1"]
    assert ids(search="shell") == ["Terminal shell in container"]
    assert ids(source="trivy") == ["Terminal shell in container", "CVE-2", "CVE-1"]
    assert ids(occurred_after="2026-11-21T00:00:00Z") == []
    assert ids(occurred_before="2026-11-21T00:00:00Z") == ["Terminal shell in container", "CVE-2", "CVE-1"]


def test_bad_filter_value_is_400(scanner_api):
    response = scanner_api.get(URL, {"min_severity": "extreme"})
    assert response.status_code == 400
    assert "min_severity" in response.json()["errors"]


def test_list_is_cursor_paginated(scanner_api):
    scanner_api.post(URL, [vulnerability(finding_id=f"CVE-{i}") for i in range(7)], format="json")
    first = scanner_api.get(URL, {"page_size": 5}).json()
    assert len(first["results"]) == 5 and first["next"]
    second = scanner_api.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None


def test_read_one_event(scanner_api):
    event_id = scanner_api.post(
        URL, vulnerability(details={"PrimaryURL": "https://avd.aquasec.com/x"}), format="json"
    ).json()["ids"][0]
    body = scanner_api.get(f"{URL}{event_id}/").json()
    assert body["id"] == event_id
    assert body["severity"] == "critical" and body["type"] == "vulnerability"
    assert body["details"] == {"PrimaryURL": "https://avd.aquasec.com/x"}
    assert scanner_api.get(f"{URL}999999/").status_code == 404


def test_events_cannot_be_changed_or_deleted(scanner_api, admin_api):
    event_id = scanner_api.post(URL, vulnerability(), format="json").json()["ids"][0]
    assert admin_api.patch(f"{URL}{event_id}/", {"severity": "low"}, format="json").status_code == 405
    assert admin_api.delete(f"{URL}{event_id}/").status_code == 405


def test_schema_documents_what_an_event_post_takes(scanner_api):
    """Found by the API fuzz test: the schema had no request body for ``POST /api/v1/events/`` at all (its
    serializer is read-only), and documented the ``severity`` filter as an integer that takes slugs."""
    schema = scanner_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    body = schema["paths"][URL]["post"]["requestBody"]["content"]["application/json"]["schema"]
    one_or_many = components[body["$ref"].rsplit("/", 1)[-1]]["oneOf"]
    event_ref = {"$ref": "#/components/schemas/SecurityEventInputRequest"}
    assert one_or_many == [event_ref, {"type": "array", "items": event_ref}]
    event = components["SecurityEventInputRequest"]
    assert set(event["required"]) == {"type", "severity", "title"}
    assert event["properties"]["cvss"]["maximum"] == 10 and event["properties"]["title"]["maxLength"] == 500
    severity_filter = [p for p in schema["paths"][URL]["get"]["parameters"] if p["name"] == "severity"][0]
    assert severity_filter["schema"]["type"] == "string" and "critical" in severity_filter["schema"]["enum"]
