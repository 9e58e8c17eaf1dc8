"""Trivy JSON (image, fs, legacy list, trivy k8s) and trivy-operator resources → events."""

import copy
import json

import pytest

from events.adapters import ADAPTERS, AdapterError
from tests.fixtures import fixture_bytes, fixture_json

trivy = ADAPTERS["trivy"]


def events_of(name: str, **hints) -> list[dict]:
    return trivy.load(fixture_bytes(name), hints).items


def by_finding(events: list[dict]) -> dict[str, dict]:
    return {event["finding_id"]: event for event in events}


def test_image_report_gives_vulnerabilities_secrets_failed_checks_and_restricted_licenses():
    events = by_finding(events_of("trivy/image_report.json"))
    assert {e: events[e]["type"] for e in events} == {
        "CVE-2023-5363": "vulnerability",
        "CVE-2023-5678": "vulnerability",
        "GHSA-m425-mq94-257g": "vulnerability",
        "aws-access-key-id": "sensitive_data",
        "DS026": "misconfiguration",
        "GPL-2.0-only": "non_compliant",
    }  # not_affected CVE-2024-0727, the PASSing DS002 and the MIT (notice) license are not findings


def test_vulnerability_carries_image_package_fix_and_cvss():
    event = by_finding(events_of("trivy/image_report.json"))["CVE-2023-5363"]
    assert event["severity"] == "critical"
    assert (event["registry"], event["repository"], event["tag"]) == ("registry.example.com", "shop/payments", "2.3.1")
    assert event["digest"] == "sha256:5d2c0b0b7c8a1f7e46a3d1c9e2f4b6a8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0"
    assert (event["package"], event["installed_version"], event["fixed_version"]) == (
        "libcrypto3",
        "3.1.3-r0",
        "3.1.4-r0",
    )
    assert event["cvss"] == 9.1
    assert event["title"] == "CVE-2023-5363: openssl: Incorrect cipher key and IV length processing"
    assert event["occurred_at"] == "2026-11-20T09:14:03.512944512Z"
    assert event["details"]["primary_url"] == "https://avd.aquasec.com/nvd/cve-2023-5363"


def test_cvss_follows_the_severity_source():
    # SeveritySource redhat: the Red Hat score (5.9), not NVD's (5.3).
    assert by_finding(events_of("trivy/image_report.json"))["CVE-2023-5678"]["cvss"] == 5.9


def test_secret_keeps_the_masked_match_but_never_the_unmasked_context_lines():
    event = by_finding(events_of("trivy/image_report.json"))["aws-access-key-id"]
    assert event["severity"] == "critical"
    assert event["title"] == "AWS Access Key ID in /app/config/settings.env:4"
    assert event["details"]["match"] == "AWS_ACCESS_KEY_ID=********************"
    assert "sk_live" not in json.dumps(event)


def test_misconfiguration_has_no_image_identity_but_says_what_to_fix():
    event = by_finding(events_of("trivy/image_report.json"))["DS026"]
    assert event["severity"] == "low"
    assert event["repository"] == ""
    assert event["description"].startswith("Add HEALTHCHECK instruction in your Dockerfile")
    assert event["details"]["resolution"] == "Add HEALTHCHECK instruction in Dockerfile"


def test_a_report_without_findings_gives_nothing():
    assert events_of("trivy/no_findings.json") == []


def test_reposting_the_same_report_gives_the_same_uids_and_a_new_scan_new_ones():
    first = [e["uid"] for e in events_of("trivy/image_report.json")]
    assert first == [e["uid"] for e in events_of("trivy/image_report.json")]
    assert len(set(first)) == len(first)
    rescan = fixture_json("trivy/image_report.json")
    rescan["CreatedAt"] = "2026-11-21T09:00:00Z"
    assert not set(first) & {e["uid"] for e in trivy.parse(rescan, {}).items}


def test_legacy_list_output_takes_the_image_from_the_os_target():
    (event,) = events_of("trivy/legacy_list.json")
    assert (event["registry"], event["repository"], event["tag"]) == ("docker.io", "library/alpine", "3.10")
    assert (event["finding_id"], event["severity"]) == ("CVE-2019-14697", "critical")


def test_k8s_report_names_cluster_namespace_and_workload():
    events = by_finding(events_of("trivy/k8s_resources.json"))
    vuln = events["CVE-2024-2961"]
    assert (vuln["cluster"], vuln["namespace"]) == ("prod-eu-1", "payments")
    assert (vuln["registry"], vuln["repository"], vuln["tag"]) == ("ghcr.io", "acme/checkout", "5.2.0")
    assert vuln["digest"] == "sha256:" + "1" * 64
    assert vuln["details"]["workload"] == "Deployment/checkout"
    privileged = events["KSV017"]
    assert privileged["severity"] == "high" and privileged["title"].endswith("(Deployment/checkout)")
    assert events["KSV041"]["details"]["workload"] == "Role/checkout-operator"
    assert len(events) == 3  # the Service passed every check


def test_legacy_k8s_report():
    events = by_finding(events_of("trivy/k8s_legacy.json"))
    assert set(events) == {"CVE-2021-3520", "KSV012"}
    assert events["CVE-2021-3520"]["repository"] == "library/redis"
    assert events["CVE-2021-3520"]["cvss"] == 9.8
    assert events["KSV012"]["cluster"] == "kind-ci"


def test_operator_vulnerability_report_with_cluster_from_the_sender():
    events = by_finding(events_of("trivy/operator_vulnerabilityreport.json", cluster="prod-eu-1"))
    event = events["CVE-2024-45491"]
    assert (event["cluster"], event["namespace"], event["container"]) == ("prod-eu-1", "orders", "api")
    assert (event["registry"], event["repository"], event["tag"]) == ("docker.io", "acme/orders-api", "3.0.1")
    assert (event["severity"], event["cvss"], event["fixed_version"]) == ("critical", 9.8, "2.6.3-r0")
    assert event["details"]["workload"] == "ReplicaSet/orders-api-6d8f7c9b4"
    assert events["CVE-2024-9143"]["severity"] == "low"


def test_operator_list_gives_failed_checks_and_secrets_and_acknowledges_sboms():
    parsed = trivy.load(fixture_bytes("trivy/operator_list.json"), {})
    events = by_finding(parsed.items)
    assert set(events) == {"KSV014", "stripe-secret-token"}  # KSV003 passed
    assert events["KSV014"]["type"] == "misconfiguration" and events["KSV014"]["severity"] == "high"
    assert events["stripe-secret-token"]["type"] == "sensitive_data"
    assert events["stripe-secret-token"]["title"] == "Stripe Secret Key in /app/.env"
    assert parsed.ignored == ["SbomReport replicaset-orders-api-6d8f7c9b4-api: an SBOM holds no findings."]


def test_operator_resources_keyed_by_crd_name_are_read_too():
    resources = fixture_json("trivy/operator_list.json")["items"]
    payload = {
        "configauditreports.aquasecurity.github.io": {"items": resources[:1]},
        "exposedsecretreports.aquasecurity.github.io": resources[1:2],
    }
    assert {e["finding_id"] for e in trivy.parse(payload, {}).items} == {"KSV014", "stripe-secret-token"}


def test_compliance_report_gives_one_non_compliant_event_per_failing_control():
    (event,) = events_of("trivy/operator_compliance.json")
    assert (event["type"], event["finding_id"], event["severity"]) == ("non_compliant", "2", "high")
    assert event["title"] == "Kubernetes Pod Security Standards - Restricted: 2 Host Namespaces"
    assert event["details"]["failed"] == 2


def bad(mutate) -> AdapterError:
    payload = copy.deepcopy(fixture_json("trivy/image_report.json"))
    mutate(payload)
    with pytest.raises(AdapterError) as caught:
        trivy.parse(payload, {})
    return caught.value


def test_wrong_types_and_missing_fields_are_refused_with_their_place():
    error = bad(lambda p: p["Results"][0]["Vulnerabilities"][1].pop("VulnerabilityID"))
    assert error.path == "Results[0].Vulnerabilities[1].VulnerabilityID"
    assert "required" in error.message
    error = bad(lambda p: p["Results"][0]["Vulnerabilities"][0].update(Severity=4))
    assert error.message == "Results[0].Vulnerabilities[0].Severity: expected a string, got a number."
    assert bad(lambda p: p.update(Results={"a": 1})).path == "Results"
    assert bad(lambda p: p["Results"].append("text")).path == "Results[5]"
    assert bad(lambda p: p.update(SchemaVersion="two")).path == "SchemaVersion"


@pytest.mark.parametrize("payload", [{}, [], {"hello": "world"}, [1, 2], "report", 42])
def test_json_that_is_no_trivy_report_is_refused(payload):
    with pytest.raises(AdapterError, match="Not a Trivy JSON report"):
        trivy.parse(payload, {})
