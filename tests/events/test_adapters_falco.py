"""Falco alerts (json_output via http_output or Falcosidekick) → runtime events."""

import json

import pytest

from events.adapters import ADAPTERS, AdapterError
from tests.fixtures import fixture_bytes, fixture_json

falco = ADAPTERS["falco"]


def test_alert_becomes_a_runtime_event_on_its_pod_container_and_image():
    (event,) = falco.load(fixture_bytes("falco/shell_in_container.json")).items
    assert (event["type"], event["severity"]) == ("runtime", "critical")
    assert event["finding_id"] == event["title"] == "Terminal shell in container"
    assert (event["namespace"], event["pod"], event["container"], event["node"]) == (
        "payments",
        "payments-api-7d9f8c6b5-x2x9q",
        "api",
        "worker-3",
    )
    assert (event["registry"], event["repository"], event["tag"]) == ("registry.example.com", "shop/payments", "2.3.1")
    assert event["description"].startswith("10:15:42.118029113: Critical A shell was spawned")
    assert event["occurred_at"] == "2026-11-20T10:15:42.118029113Z"
    assert event["details"]["tags"] == ["T1059", "container", "maturity_stable", "mitre_execution", "shell"]
    assert event["details"]["output_fields"]["proc.cmdline"] == "bash"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("Emergency", "critical"),
        ("ALERT", "critical"),
        ("Critical", "critical"),
        ("Error", "high"),
        ("Warning", "medium"),
        ("NOTICE", "low"),
        ("Informational", "negligible"),
        ("Info", "negligible"),
        ("Debug", "negligible"),
        ("Loud", "unknown"),
        (None, "unknown"),
    ],
)
def test_priority_maps_to_severity(priority, severity):
    alert = fixture_json("falco/shell_in_container.json")
    alert["priority"] = priority
    assert falco.parse(alert, {}).items[0]["severity"] == severity


def test_json_lines_skip_blank_lines_and_falco_internal_rules():
    parsed = falco.load(fixture_bytes("falco/alerts.jsonl"))
    assert [e["finding_id"] for e in parsed.items] == [
        "Read sensitive file untrusted",
        "Packet socket created in container",
    ]
    assert parsed.ignored == ["Falco internal: syscall event drop: Falco's report on its own health, not a threat."]
    on_host, in_pod = parsed.items
    assert (on_host["container"], on_host["node"], on_host["severity"]) == ("", "worker-1", "medium")
    assert (in_pod["repository"], in_pod["tag"], in_pod["namespace"]) == ("library/busybox", "1.36", "default")


def test_a_json_list_of_alerts_is_accepted():
    alerts = [fixture_json("falco/shell_in_container.json"), fixture_json("falco/k8saudit_exec.json")]
    assert len(falco.load(json.dumps(alerts, indent=2).encode()).items) == 2


def test_audit_alert_names_the_pod_and_a_cluster_set_in_custom_fields():
    (event,) = falco.load(fixture_bytes("falco/k8saudit_exec.json")).items
    assert (event["cluster"], event["namespace"], event["pod"]) == (
        "prod-eu-1",
        "payments",
        "payments-api-7d9f8c6b5-x2x9q",
    )
    assert event["details"]["uuid"] == "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968"


def test_cluster_comes_from_the_sender_when_falco_does_not_know_it():
    (event,) = falco.load(fixture_bytes("falco/shell_in_container.json"), {"cluster": "prod-eu-1"}).items
    assert event["cluster"] == "prod-eu-1"


def test_missing_values_written_as_na_or_null_are_empty():
    alert = fixture_json("falco/shell_in_container.json")
    alert["output_fields"].update({"container.image.repository": None, "k8s.pod.name": "<NA>", "container.name": None})
    (event,) = falco.parse(alert, {}).items
    assert (event["repository"], event["pod"], event["container"]) == ("", "", "9f2c1e7ab04d")


def test_two_alerts_of_one_rule_are_two_events_and_the_same_alert_twice_is_one_uid():
    lines = fixture_bytes("falco/shell_in_container.json").strip()
    later = json.loads(lines)
    later["time"] = "2026-11-20T10:15:43.000000000Z"
    events = falco.load(lines + b"\n" + lines + b"\n" + json.dumps(later).encode()).items
    assert len({e["uid"] for e in events}) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"rule": "x", "time": "yesterday"}', "time: not an RFC 3339 time"),
        (b'{"rule": 5}', "rule: expected a string"),
        (b'{"rule": "x", "output_fields": []}', "output_fields: expected an object"),
        (b'{"rule": "x"}\n{"rule": "y"\n', "Line 2 is not JSON"),
        (b"[]", "The list holds no Falco alert"),
        (b'[{"rule": "x"}, {"priority": "Notice"}]', r"\[1\]: not a Falco alert"),
        (b'{"hello": "world"}', "Not a Falco alert"),
    ],
)
def test_bad_alerts_are_refused_saying_why(body, message):
    with pytest.raises(AdapterError, match=message):
        falco.load(body)
