"""Every real tool output in ../shared/samples/ goes through its ingest endpoint with the counts SOURCES.md lists.

The folder sits beside the checkout in CI; elsewhere this module is skipped, saying so. Expected counts are
transcribed from SOURCES.md ("content:" lines) per (type, severity). Where our mapping deliberately differs from a
raw count, the comment says why.
"""

from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from events.adapters import ADAPTERS
from events.models import SecurityEvent

pytestmark = pytest.mark.django_db

SAMPLES = Path(settings.BASE_DIR).parent / "shared" / "samples"
if not SAMPLES.is_dir():
    pytest.skip(f"shared samples not found at {SAMPLES}: nothing to check here", allow_module_level=True)

ENDPOINT = {
    "trivy": "trivy",
    "trivy-operator": "trivy",
    "grype": "grype",
    "harbor": "harbor",
    "harbor-webhook": "harbor",
    "falco": "falco",
}

V, S, M, N, R = "vulnerability", "sensitive_data", "misconfiguration", "non_compliant", "runtime"

# path: ({(type, severity): events}, acknowledged-but-not-stored count)
EXPECTED = {
    "trivy/scheme_2_many_vulns.json": ({(V, "critical"): 1, (V, "high"): 1, (V, "medium"): 3}, 0),
    "trivy/misconfigurations_and_secrets.json": (
        {(V, "high"): 1, (V, "medium"): 1, (M, "high"): 1, (S, "critical"): 2},
        0,
    ),
    "trivy/kubernetes.json": ({(V, "medium"): 2, (V, "low"): 8, (M, "medium"): 4, (M, "low"): 6}, 0),
    "trivy/issue_9170.json": ({(M, "high"): 1, (M, "medium"): 5, (M, "low"): 31}, 0),
    "trivy/scheme_2_no_vuln.json": ({}, 0),
    "trivy/severity_prio.json": ({(V, "critical"): 1, (V, "low"): 1}, 0),
    # 19 license findings: the 11 LOW ones are "notice" licenses, free to use by Trivy's own classification.
    "trivy/license_scheme.json": ({(N, "high"): 7, (N, "medium"): 1}, 0),
    "trivy/alpine-310-registry.json": ({(V, "medium"): 4}, 0),
    "trivy/secrets.json": ({(S, "critical"): 1, (S, "high"): 1}, 0),
    "trivy/dockerfile.json": ({(M, "high"): 1}, 0),
    # 6 matches; DefectDojo duplicated the Django GHSA match, which is the same finding (stored once).
    "grype/check_all_fields.json": ({(V, "critical"): 2, (V, "high"): 2, (V, "negligible"): 1}, 0),
    "grype/fix_available.json": ({(V, "high"): 1}, 0),
    "grype/many_vulns4.json": ({(V, "critical"): 2, (V, "high"): 2, (V, "medium"): 5}, 0),
    "harbor/harbor-trivy-vuln.json": ({(V, "high"): 1, (V, "low"): 2}, 0),
    "harbor/harbor-0-vuln.json": ({}, 0),
    "harbor/harborapipip.json": ({(V, "high"): 1, (V, "medium"): 1}, 0),
    "trivy-operator/vulnerabilityreport_many.json": (
        {(V, "critical"): 2, (V, "high"): 3, (V, "medium"): 25, (V, "low"): 11},
        0,
    ),
    "trivy-operator/configauditreport_many.json": ({(M, "medium"): 2, (M, "low"): 11}, 0),
    "trivy-operator/exposedsecretreport_many.json": ({(S, "critical"): 2}, 0),
    "trivy-operator/clustercompliancereport.json": ({(N, "critical"): 2}, 0),  # 2 controls with totalFail > 0
    "trivy-operator/all_reports_in_dict.json": (
        {(M, "low"): 1, (S, "critical"): 1, (V, "critical"): 2, (V, "high"): 3, (V, "medium"): 25, (V, "low"): 11},
        0,
    ),
    "harbor-webhook/push_artifact.json": ({}, 1),
    "harbor-webhook/scanning_completed_default.json": ({}, 0),  # severity None: a clean image
    "harbor-webhook/scanning_completed_cloudevents.json": ({}, 0),
    "harbor-webhook/scanning_stopped_default.json": ({}, 1),
    "harbor-webhook/scanning_failed_default.json": ({}, 1),
    "harbor-webhook/zulip_scanning_completed.json": ({(V, "high"): 1, (V, "unknown"): 1}, 0),  # 4 High, 1 Unknown
    "harbor-webhook/zulip_scanning_completed_no_tag.json": ({(V, "high"): 1, (V, "unknown"): 1}, 0),
    "harbor-webhook/zulip_scanning_failed.json": ({}, 1),
    "falco/critical_terminal_shell_in_container.json": ({(R, "critical"): 1}, 0),
    "falco/notice_contact_k8s_api_server_from_container.json": ({(R, "low"): 1}, 0),
    "falco/notice_terminal_shell_in_container_null_fields.json": ({(R, "low"): 1}, 0),
    "falco/warning_k8saudit_disallowed_k8s_user.json": ({(R, "medium"): 1}, 0),
    "falco/notice_k8saudit_attach_exec_pod.json": ({(R, "low"): 1}, 0),
    "falco/informational_k8saudit_serviceaccount_created.json": ({(R, "negligible"): 1}, 0),
    "falco/error_write_below_binary_dir.json": ({(R, "high"): 1}, 0),
    "falco/debug_falcosidekick_test_event.json": ({(R, "negligible"): 1}, 0),
    "falco/debug_falco_internal_syscall_event_drop.json": ({}, 1),  # Falco's own health report
    "falco/alerts.jsonl": (
        {(R, "critical"): 1, (R, "low"): 3, (R, "medium"): 1, (R, "negligible"): 2, (R, "high"): 1},
        1,
    ),
}

SAMPLE_FILES = sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*") if p.is_file())


def test_every_sample_has_expected_counts_and_is_listed_in_sources():
    sources = (SAMPLES / "SOURCES.md").read_text()
    assert set(SAMPLE_FILES) == set(EXPECTED), "a sample was added or removed: update EXPECTED from SOURCES.md"
    assert all(f"`{name}`" in sources for name in SAMPLE_FILES)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_is_ingested_with_the_listed_counts(scanner_api, name):
    expected, acknowledged = EXPECTED[name]
    tool = ENDPOINT[name.split("/")[0]]
    response = scanner_api.generic(
        "POST", f"/api/v1/ingest/{tool}/", (SAMPLES / name).read_bytes(), content_type="application/json"
    )
    assert response.status_code in (200, 201), response.content
    body = response.json()
    stored = Counter((e.type, e.severity_slug) for e in SecurityEvent.objects.all())
    assert dict(stored) == expected
    assert body["created"] == sum(expected.values())
    assert len(body["ignored"]) == acknowledged
    assert response.status_code == (201 if expected else 200)
    again = scanner_api.generic(
        "POST", f"/api/v1/ingest/{tool}/", (SAMPLES / name).read_bytes(), content_type="application/json"
    ).json()
    assert again["created"] == 0 and again["duplicates"] == body["received"]


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_only_the_receiving_adapter_says_a_sample_looks_like_its_output(name):
    tool = ENDPOINT[name.split("/")[0]]
    payload = ADAPTERS[tool].decode((SAMPLES / name).read_bytes())
    assert [other for other, adapter in ADAPTERS.items() if adapter.looks_like(payload)] == [tool]
