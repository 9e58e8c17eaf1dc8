"""Shared adapter parts: image references as Docker reads them, stable uids, resource hints, tool detection."""

import pytest

from events.adapters import ADAPTERS, AdapterError
from events.adapters.base import guess_tool, register
from events.adapters.event_dicts import clean_hints, make_event
from events.adapters.images import ImageRef, parse_image_reference
from events.adapters.readers import decode_json
from events.models import EventType, Severity
from tests.fixtures import fixture_bytes


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("alpine", ImageRef("docker.io", "library/alpine")),
        ("alpine:3.11", ImageRef("docker.io", "library/alpine", "3.11")),
        ("bitnami/redis:7.2", ImageRef("docker.io", "bitnami/redis", "7.2")),
        ("index.docker.io/library/nginx:alpine", ImageRef("docker.io", "library/nginx", "alpine")),
        ("docker.io/nginx", ImageRef("docker.io", "library/nginx")),
        ("localhost/app:dev", ImageRef("localhost", "app", "dev")),
        ("localhost:5000/team/app:1.0", ImageRef("localhost:5000", "team/app", "1.0")),
        ("Registry.Example.com/shop/api:1.4.2", ImageRef("registry.example.com", "shop/api", "1.4.2")),
        (
            "ghcr.io/acme/tools/kubectl@sha256:" + "a" * 64,
            ImageRef("ghcr.io", "acme/tools/kubectl", "", "sha256:" + "a" * 64),
        ),
        ("quay.io/org/app:v2@sha256:" + "b" * 64, ImageRef("quay.io", "org/app", "v2", "sha256:" + "b" * 64)),
    ],
)
def test_image_references_split_like_docker(reference, expected):
    assert parse_image_reference(reference) == expected


def test_same_finding_same_resource_gets_the_same_uid_and_other_resources_do_not():
    common = dict(
        source="trivy",
        type=EventType.VULNERABILITY,
        severity="high",
        title="x",
        hints={},
        finding_id="CVE-2024-1",
        package="openssl",
        key=("2026-11-20T00:00:00Z",),
    )
    first = make_event(repository="shop/api", **common)
    again = make_event(repository="shop/api", **common)
    other = make_event(repository="shop/web", **common)
    assert first["uid"] == again["uid"]
    assert first["uid"] != other["uid"]
    assert first["uid"].startswith("trivy:")


def test_hints_fill_only_empty_resource_fields():
    event = make_event(
        source="falco",
        type=EventType.RUNTIME,
        severity="low",
        title="x",
        hints={"cluster": "prod", "namespace": "ignored"},
        namespace="payments",
    )
    assert (event["cluster"], event["namespace"]) == ("prod", "payments")


def test_overlong_text_is_clipped_not_refused():
    event = make_event(
        source="trivy", type=EventType.VULNERABILITY, severity="low", title="t" * 900, hints={}, package="p" * 400
    )
    assert len(event["title"]) == 500 and event["title"].endswith("…")
    assert len(event["package"]) == 255


def test_hints_are_checked():
    hints, errors = clean_hints(
        {"cluster": " prod-eu ", "registry": "index.docker.io", "colour": "red", "tag": "x" * 200}
    )
    assert hints == {"cluster": "prod-eu", "registry": "docker.io"}
    assert set(errors) == {"colour", "tag"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "The body is empty"),
        (b"   \n", "The body is empty"),
        (b"{not json", "The body is not JSON"),
        (b"\xff\xfe\x00garbage\xc3", "The body is not"),
    ],
)
def test_bodies_that_are_not_json_are_refused_with_the_reason(body, message):
    with pytest.raises(AdapterError, match=message):
        decode_json(body, "Trivy")


def test_utf16_output_from_powershell_is_read():
    assert decode_json('{"a": 1}'.encode("utf-16"), "Trivy") == {"a": 1}


@pytest.mark.parametrize(
    ("payload", "tool"),
    [
        ({"SchemaVersion": 2, "Results": []}, "trivy"),
        ({"matches": [], "source": {}}, "grype"),
        ({"type": "PUSH_ARTIFACT", "event_data": {}}, "harbor"),
        ({"rule": "x", "priority": "Notice"}, "falco"),
        ({"hello": "world"}, None),
    ],
)
def test_tools_are_told_apart(payload, tool):
    assert guess_tool(payload) == tool


# Each registered tool's own fixtures, in every shape looks_like() recognises. Not here: trivy/legacy_list.json and
# trivy/operator_list.json, shapes wrong-tool detection has never recognised (they get "Not …" without a hint).
OWN_OUTPUT = {
    "trivy": ["trivy/image_report.json", "trivy/k8s_resources.json", "trivy/operator_vulnerabilityreport.json"],
    "grype": ["grype/image.json", "grype/directory.json"],
    "harbor": [
        "harbor/scanning_completed.json",
        "harbor/scanning_completed_cloudevents.json",
        "harbor/vulnerability_report.json",
    ],
    "falco": ["falco/shell_in_container.json", "falco/alerts.jsonl"],
}


@pytest.mark.parametrize("tool", sorted(ADAPTERS))
def test_looks_like_accepts_its_own_tools_output_and_no_other(tool):
    adapter = ADAPTERS[tool]
    for owner, names in OWN_OUTPUT.items():
        for name in names:
            payload = ADAPTERS[owner].decode(fixture_bytes(name))
            assert adapter.looks_like(payload) is (owner == tool), name
    for not_a_report in (None, 42, "text", [], {}):
        assert adapter.looks_like(not_a_report) is False


@pytest.mark.parametrize("tool", sorted(ADAPTERS))
def test_each_adapters_severity_table_maps_onto_our_severities(tool):
    table = ADAPTERS[tool].severities
    assert table and all(name == name.lower() for name in table)
    assert set(table.values()) <= {level.slug for level in Severity}


def test_a_second_adapter_under_a_taken_name_is_refused():
    before = dict(ADAPTERS)
    with pytest.raises(ValueError, match="already registered"):
        register(type(ADAPTERS["grype"])())
    assert ADAPTERS == before


@pytest.mark.parametrize("receiver", sorted(ADAPTERS))
def test_each_adapter_names_the_right_endpoint_for_another_tools_output(receiver):
    payloads = {
        "trivy": {"SchemaVersion": 2, "ArtifactName": "x", "Results": []},
        "grype": {"matches": [], "source": {"type": "image"}, "descriptor": {"name": "grype"}},
        "harbor": {"type": "SCANNING_COMPLETED", "event_data": {"resources": []}},
        "falco": {"rule": "Terminal shell in container", "priority": "Notice", "output": "…"},
    }
    sender = "falco" if receiver != "falco" else "trivy"
    with pytest.raises(AdapterError, match=f"/api/v1/ingest/{sender}/"):
        ADAPTERS[receiver].parse(payloads[sender], {})


def test_nul_characters_are_dropped_because_postgresql_cannot_store_them():
    event = make_event(
        source="grype",
        type=EventType.VULNERABILITY,
        severity="high",
        title="java\x00 flaw",
        hints={},
        installed_version="17.0.10+7\x00-J-ms8m",
        details={"purl": ["pkg:generic/java@17\x00"]},
    )
    assert event["installed_version"] == "17.0.10+7-J-ms8m"
    assert event["title"] == "java flaw"
    assert event["details"] == {"purl": ["pkg:generic/java@17"]}
