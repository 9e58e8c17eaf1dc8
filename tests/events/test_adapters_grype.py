"""Grype JSON (grype -o json) → one vulnerability event per match."""

import pytest

from events.adapters import ADAPTERS, AdapterError
from tests.fixtures import fixture_bytes, fixture_json

grype = ADAPTERS["grype"]


def events_of(name: str, **hints) -> list[dict]:
    return grype.load(fixture_bytes(name), hints).items


def test_each_match_is_a_vulnerability_of_the_scanned_image():
    events = events_of("grype/image.json")
    assert [(e["finding_id"], e["package"], e["severity"]) for e in events] == [
        ("CVE-2024-45490", "libexpat1", "critical"),
        ("GHSA-248v-346w-9cwc", "certifi", "high"),
        ("CVE-2023-4911", "libc-bin", "high"),
        ("CVE-2023-4911", "libc6", "high"),
        ("CVE-2023-4911", "libc6", "high"),
        ("CVE-2005-2541", "tar", "negligible"),
    ]
    first = events[0]
    assert (first["registry"], first["repository"], first["tag"]) == ("registry.example.com", "shop/payments", "2.3.1")
    assert first["digest"] == "sha256:5d2c0b0b7c8a1f7e46a3d1c9e2f4b6a8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0"
    assert (first["installed_version"], first["fixed_version"], first["cvss"]) == ("2.5.0-1", "2.5.0-1+deb12u1", 9.8)
    assert first["title"] == "CVE-2024-45490 in libexpat1 2.5.0-1"
    assert first["occurred_at"] == "2026-11-20T09:31:12.044102811Z"
    assert first["details"]["fix_state"] == "fixed"


def test_the_same_cve_in_two_packages_is_two_findings_and_a_repeated_match_one():
    libc = [e["uid"] for e in events_of("grype/image.json") if e["finding_id"] == "CVE-2023-4911"]
    assert len(libc) == 3 and len(set(libc)) == 2


def test_ghsa_match_takes_cvss_and_cve_alias_from_the_related_vulnerability():
    ghsa = events_of("grype/image.json")[1]
    assert ghsa["cvss"] == 7.5
    assert ghsa["details"]["related"] == ["CVE-2024-39689"]


def test_description_falls_back_to_the_related_record():
    libc_bin = events_of("grype/image.json")[2]
    assert libc_bin["description"].startswith("A buffer overflow was discovered in the GNU C Library")
    assert libc_bin["fixed_version"] == "" and libc_bin["details"]["fix_state"] == "not-fixed"


def test_directory_scan_has_no_image_but_the_registry_can_come_from_the_sender():
    (event,) = events_of("grype/directory.json")
    assert event["repository"] == "" and event["details"]["target"] == "."
    (event,) = events_of("grype/directory.json", repository="shop/payments")
    assert event["repository"] == "shop/payments"


def test_zero_matches_is_an_empty_result_not_an_error():
    payload = fixture_json("grype/directory.json")
    payload["matches"] = []
    assert grype.parse(payload, {}).items == []


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda p: p.update(matches={"x": 1}), "matches"),
        (lambda p: p["matches"][0].pop("vulnerability"), "matches[0].vulnerability"),
        (lambda p: p["matches"][0]["vulnerability"].update(id=None), "matches[0].vulnerability.id"),
        (lambda p: p["matches"][0]["artifact"].update(version=2), "matches[0].artifact.version"),
    ],
)
def test_broken_matches_are_refused_with_their_place(mutate, path):
    payload = fixture_json("grype/directory.json")
    mutate(payload)
    with pytest.raises(AdapterError) as caught:
        grype.parse(payload, {})
    assert caught.value.path == path


def test_trivy_output_sent_to_grype_is_refused_naming_the_trivy_endpoint():
    with pytest.raises(AdapterError, match="looks like Trivy output.*/api/v1/ingest/trivy/"):
        grype.load(fixture_bytes("trivy/image_report.json"))
