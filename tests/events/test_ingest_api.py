"""POST /api/v1/ingest/<tool>/ as Trivy, Grype, Harbor and Falco (or curl in a CI job) use it."""

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from events.models import EventBatch, SecurityEvent, Severity
from tests.factories import grant, token_client
from tests.fixtures import fixture_bytes, fixture_json

pytestmark = pytest.mark.django_db

IMAGE = (
    "registry.example.com/shop/payments:2.3.1@sha256:5d2c0b0b7c8a1f7e46a3d1c9e2f4b6a8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0"
)


def post(client, tool: str, body: bytes, content_type: str = "application/json", query: str = ""):
    return client.generic("POST", f"/api/v1/ingest/{tool}/{query}", body, content_type=content_type)


def test_trivy_report_is_stored_as_one_batch_and_answered_with_counts(scanner_api, scanner_user):
    response = post(scanner_api, "trivy", fixture_bytes("trivy/image_report.json"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("received", "created", "duplicates", "ignored")} == {
        "received": 6,
        "created": 6,
        "duplicates": 0,
        "ignored": [],
    }
    batch = EventBatch.objects.get()
    assert str(batch.id) == body["batch"]
    assert (batch.source, batch.created_by, batch.received, batch.created) == ("trivy", scanner_user, 6, 6)
    critical = SecurityEvent.objects.get(finding_id="CVE-2023-5363")
    assert (critical.source, critical.severity, critical.image_reference) == ("trivy", Severity.CRITICAL, IMAGE)


def test_the_stored_events_are_listed_by_the_events_api(scanner_api):
    post(scanner_api, "trivy", fixture_bytes("trivy/image_report.json"))
    listed = scanner_api.get("/api/v1/events/", {"source": "trivy", "severity": "critical"}).json()["results"]
    assert {e["finding_id"] for e in listed} == {"CVE-2023-5363", "aws-access-key-id"}


def test_reposting_the_same_report_stores_nothing_new(scanner_api):
    post(scanner_api, "trivy", fixture_bytes("trivy/image_report.json"))
    again = post(scanner_api, "trivy", fixture_bytes("trivy/image_report.json"))
    assert again.status_code == 200
    assert {k: again.json()[k] for k in ("received", "created", "duplicates", "batch")} == {
        "received": 6,
        "created": 0,
        "duplicates": 6,
        "batch": None,
    }
    assert SecurityEvent.objects.count() == 6 and EventBatch.objects.count() == 1


def test_a_report_without_findings_is_accepted_with_zero_counts(scanner_api):
    response = post(scanner_api, "trivy", fixture_bytes("trivy/no_findings.json"))
    assert response.status_code == 200
    assert response.json() == {"received": 0, "created": 0, "duplicates": 0, "batch": None, "ignored": []}
    assert EventBatch.objects.count() == 0


def test_curl_without_a_content_type_is_accepted(scanner_api):
    # `curl --data-binary @report.json` sends application/x-www-form-urlencoded.
    response = post(
        scanner_api, "grype", fixture_bytes("grype/image.json"), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201, response.content
    assert response.json()["received"] == 6 and response.json()["created"] == 5
    assert response.json()["duplicates"] == 1  # grype listed one libc6 match twice


def test_cluster_and_other_resource_fields_can_be_given_in_the_query(scanner_api):
    response = post(
        scanner_api, "trivy", fixture_bytes("trivy/operator_vulnerabilityreport.json"), query="?cluster=prod-eu-1"
    )
    assert response.status_code == 201
    assert set(SecurityEvent.objects.values_list("cluster", "namespace")) == {("prod-eu-1", "orders")}


def test_unknown_query_parameters_are_refused(scanner_api):
    response = post(scanner_api, "falco", fixture_bytes("falco/shell_in_container.json"), query="?clustr=prod")
    assert response.status_code == 400
    assert "clustr" in response.json()["errors"]
    assert SecurityEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("tool", "body", "detail"),
    [
        ("trivy", b"", "The body is empty: send the Trivy JSON output."),
        ("trivy", b"<html>oops</html>", "The body is not JSON: Expecting value (line 1, column 1)."),
        (
            "grype",
            fixture_bytes("trivy/image_report.json"),
            "This looks like Trivy output, not Grype JSON output (grype -o json: matches, source, descriptor); "
            "send it to /api/v1/ingest/trivy/ (manage.py ingest trivy).",
        ),
        (
            "trivy",
            b'{"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": [{"PkgName": "a"}]}]}',
            "Results[0].Vulnerabilities[0].VulnerabilityID: this field is required.",
        ),
        ("falco", b'{"rule": "Terminal shell in container", "tags": "shell"}', "tags: expected a list, got a string."),
        ("harbor", b'{"type": "SCANNING_COMPLETED", "event_data": []}', "event_data: expected an object, got a list."),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_is_stored(scanner_api, tool, body, detail):
    response = post(scanner_api, tool, body)
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert response.json()["errors"]
    assert SecurityEvent.objects.count() == 0 and EventBatch.objects.count() == 0


def test_one_invalid_finding_refuses_the_whole_report(scanner_api):
    report = fixture_json("trivy/image_report.json")
    report["Results"][1]["Vulnerabilities"][0]["Severity"] = ["HIGH"]
    response = post(scanner_api, "trivy", json.dumps(report).encode())
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "Results[1].Vulnerabilities[0].Severity": [
            "Results[1].Vulnerabilities[0].Severity: expected a string, got a list."
        ]
    }
    assert SecurityEvent.objects.count() == 0


def test_body_above_the_limit_is_refused_with_413(scanner_user):
    with override_settings(KCS_MAX_BODY_BYTES=2048):
        client = token_client(scanner_user)  # a new client: the middleware reads the limit when it starts
        response = post(client, "trivy", fixture_bytes("trivy/image_report.json"))
    assert response.status_code == 413
    assert "limit is 2048 bytes" in response.json()["detail"]
    assert SecurityEvent.objects.count() == 0


def test_falco_json_lines_store_threats_and_acknowledge_internal_alerts(scanner_api):
    response = post(scanner_api, "falco", fixture_bytes("falco/alerts.jsonl"), content_type="application/x-ndjson")
    assert response.status_code == 201
    body = response.json()
    assert (body["received"], body["created"]) == (2, 2)
    assert body["ignored"] == ["Falco internal: syscall event drop: Falco's report on its own health, not a threat."]
    assert set(SecurityEvent.objects.values_list("type", flat=True)) == {"runtime"}


def test_harbor_scan_completed_stores_one_event_per_severity(scanner_api):
    response = post(scanner_api, "harbor", fixture_bytes("harbor/scanning_completed.json"))
    assert response.status_code == 201
    assert sorted(SecurityEvent.objects.values_list("severity", flat=True)) == [
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.CRITICAL,
    ]


def test_harbor_events_other_than_scan_results_are_acknowledged_with_200(scanner_api):
    response = post(scanner_api, "harbor", fixture_bytes("harbor/push_artifact.json"))
    assert response.status_code == 200
    assert response.json()["ignored"] == [
        "PUSH_ARTIFACT for harbor.example.com/shop/payments:2.3.1: not a finding, acknowledged."
    ]
    assert SecurityEvent.objects.count() == 0


def test_a_token_is_needed(db):
    response = post(APIClient(), "trivy", fixture_bytes("trivy/image_report.json"))
    assert response.status_code == 401
    assert SecurityEvent.objects.count() == 0


def test_the_right_to_add_events_is_needed(plain_api):
    response = post(plain_api, "trivy", fixture_bytes("trivy/image_report.json"))
    assert response.status_code == 403
    assert SecurityEvent.objects.count() == 0


def test_only_post_is_offered(scanner_api):
    assert scanner_api.get("/api/v1/ingest/trivy/").status_code == 405


class TestHarborAuthHeader:
    """KCS_HARBOR_AUTH_HEADER pins the one credential Harbor's webhook policy sends."""

    @pytest.fixture
    def harbor_client(self, django_user_model):
        user = django_user_model.objects.create_user("harbor")
        grant(user, "events.add_securityevent")
        return token_client(user)

    def test_the_configured_header_is_accepted(self, harbor_client):
        header = harbor_client._credentials["HTTP_AUTHORIZATION"]
        with override_settings(KCS_HARBOR_AUTH_HEADER=header):
            response = post(harbor_client, "harbor", fixture_bytes("harbor/scanning_completed.json"))
        assert response.status_code == 201

    def test_another_valid_token_is_refused(self, harbor_client, scanner_api):
        with override_settings(KCS_HARBOR_AUTH_HEADER=harbor_client._credentials["HTTP_AUTHORIZATION"]):
            response = post(scanner_api, "harbor", fixture_bytes("harbor/scanning_completed.json"))
            other_tool = post(scanner_api, "falco", fixture_bytes("falco/shell_in_container.json"))
        assert response.status_code == 403
        assert "KCS_HARBOR_AUTH_HEADER" in response.json()["detail"]
        assert other_tool.status_code == 201  # the pin is for the Harbor endpoint only
        assert not SecurityEvent.objects.filter(source="harbor").exists()


def test_the_ingest_endpoints_are_in_the_api_schema(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for tool in ("trivy", "grype", "harbor", "falco"):
        operation = schema["paths"][f"/api/v1/ingest/{tool}/"]["post"]
        assert {p["name"] for p in operation["parameters"]} >= {"cluster", "registry"}
