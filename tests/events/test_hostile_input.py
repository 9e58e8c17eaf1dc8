"""Hostile input to the events API, the native ingest endpoints and the event screens: 400/404/413, never a 500."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import override_settings

from events import services
from events.models import EventBatch, SecurityEvent
from tests.factories import falco_alert, vulnerability
from tests.fixtures import fixture_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"
HUGE_ID = "99999999999999999999"  # above 2**63: no database integer holds it


def post_raw(client, url: str, text: str):
    """POST ``text`` as sent (the test client's JSON renderer cannot encode lone surrogates)."""
    return client.generic("POST", url, text.encode("utf-8"), content_type="application/json")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- stored values that would break reading later ---------------------------------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC: PostgreSQL stores it, Python cannot read it back
        "0001-01-01T00:00:00+14:00",  # year 0 in UTC
        "9001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_an_occurred_at_outside_the_supported_years_is_refused_naming_item_and_field(scanner_api, occurred_at):
    response = scanner_api.post(URL, [vulnerability(), vulnerability(occurred_at=occurred_at)], format="json")
    assert response.status_code == 400, response.content
    message = response.json()["errors"]["1"]["occurred_at"][0]
    assert "1970" in message and "9000" in message
    assert SecurityEvent.objects.count() == 0 and EventBatch.objects.count() == 0


def test_an_occurred_at_at_the_edges_of_the_supported_years_is_stored_and_read_back(scanner_api):
    items = [vulnerability(occurred_at="1970-01-01T00:00:00Z"), vulnerability(occurred_at="9000-12-31T10:00:00-13:00")]
    response = scanner_api.post(URL, items, format="json")
    assert response.status_code == 201, response.content
    assert scanner_api.get(URL).status_code == 200
    assert scanner_api.get(f"{URL}{response.json()['ids'][1]}/").json()["occurred_at"].startswith("9000-12-31")


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"title": "bad \udc00 title"}, "title"),
        ({"description": "\ud800"}, "description"),
        ({"repository": "shop/\udfff"}, "repository"),
        ({"uid": "run-1/\udc00"}, "uid"),
        ({"details": {"note": "\udc00"}}, "details"),
        ({"details": {"deep": {"list": [1, {"x": "ok \udc80"}]}}}, "details"),
        ({"details": {"\ud800key": 1}}, "details"),
    ],
)
def test_text_that_is_not_valid_unicode_is_refused_anywhere_in_the_event(scanner_api, overrides, field):
    body = json.dumps([vulnerability(), vulnerability(**overrides)])  # escapes the lone surrogate as \\udc00
    response = post_raw(scanner_api, URL, body)
    assert response.status_code == 400, response.content
    assert "Unicode" in response.json()["errors"]["1"][field][0]
    assert SecurityEvent.objects.count() == 0
    assert scanner_api.get(URL).status_code == 200


def test_characters_beyond_the_basic_plane_are_still_accepted(scanner_api):
    body = json.dumps(vulnerability(title="rocket \U0001f680", details={"emoji": "\U0001f600"}))
    response = post_raw(scanner_api, URL, body)
    assert response.status_code == 201, response.content
    event = scanner_api.get(f"{URL}{response.json()['ids'][0]}/").json()
    assert event["title"] == "rocket \U0001f680" and event["details"] == {"emoji": "\U0001f600"}


def test_a_lone_surrogate_in_a_native_report_is_refused(scanner_api):
    alert = json.dumps(falco_alert(1) | {"output": "shell \udc00"})
    response = scanner_api.generic("POST", "/api/v1/ingest/falco/", alert.encode(), content_type="application/json")
    assert response.status_code == 400, response.content
    assert "Unicode" in response.json()["detail"]
    assert SecurityEvent.objects.count() == 0


# --- input that used to answer 500 --------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1000, 100])
def test_json_nested_too_deeply_in_an_event_is_refused(scanner_api, depth):
    body = json.dumps(vulnerability(details={"x": "PLACEHOLDER"})).replace('"PLACEHOLDER"', nested(depth))
    response = post_raw(scanner_api, URL, body)
    assert response.status_code == 400, response.content
    assert "nested" in response.json()["detail"] and "64" in response.json()["detail"]
    assert SecurityEvent.objects.count() == 0


def test_json_nested_within_the_limit_is_accepted(scanner_api):
    body = json.dumps(vulnerability(details={"x": "PLACEHOLDER"})).replace('"PLACEHOLDER"', nested(60))
    assert post_raw(scanner_api, URL, body).status_code == 201


@pytest.mark.parametrize(
    "tool, body",
    [
        ("trivy", '{"SchemaVersion": 2, "Results": ' + nested(1000) + "}"),
        ("grype", '{"matches": ' + nested(100) + "}"),
        ("harbor", nested(1000)),
        ("falco", json.dumps(falco_alert(1)) + "\n" + '{"rule": "x", "output_fields": ' + nested(1000) + "}"),
        ("falco", '{"rule": "x", "priority": "Warning", "output_fields": {"a": ' + nested(70) + "}}"),
    ],
)
def test_json_nested_too_deeply_in_a_native_report_is_refused(scanner_api, tool, body):
    response = scanner_api.generic("POST", f"/api/v1/ingest/{tool}/", body.encode(), content_type="application/json")
    assert response.status_code == 400, response.content
    assert "nested" in response.json()["detail"]
    assert SecurityEvent.objects.count() == 0


@pytest.mark.parametrize("occur_at", ["1e20", "Infinity", "-1e15", "NaN"])
def test_a_harbor_webhook_time_that_is_no_date_is_refused(scanner_api, occur_at):
    payload = fixture_json("harbor/scanning_completed.json") | {"occur_at": "PLACEHOLDER"}
    body = json.dumps(payload).replace('"PLACEHOLDER"', occur_at)
    response = scanner_api.generic("POST", "/api/v1/ingest/harbor/", body.encode(), content_type="application/json")
    assert response.status_code == 400, response.content
    assert "occur_at" in response.json()["detail"] or occur_at in response.json()["detail"]
    assert SecurityEvent.objects.count() == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_that_are_no_json_are_refused_in_native_reports(scanner_api, constant):
    body = json.dumps(falco_alert(1) | {"output_fields": {"proc.cpu": "PLACEHOLDER"}}).replace(
        '"PLACEHOLDER"', constant
    )
    response = scanner_api.generic("POST", "/api/v1/ingest/falco/", body.encode(), content_type="application/json")
    assert response.status_code == 400, response.content
    assert constant in response.json()["detail"]
    assert SecurityEvent.objects.count() == 0


@pytest.mark.parametrize("kind", [["vulnerability"], {}, {"a": 1}, 5, True])
def test_a_type_that_is_not_a_string_is_refused_naming_item_and_field(scanner_api, kind):
    response = scanner_api.post(URL, [vulnerability(), vulnerability(type=kind)], format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["1"]["type"]
    assert SecurityEvent.objects.count() == 0


@pytest.mark.parametrize(
    "params, field",
    [
        ({"occurred_after": "0001-01-01T00:00:00+14:00"}, "occurred_after"),
        ({"occurred_before": "9999-12-31T23:59:59-14:00"}, "occurred_before"),
        ({"occurred_after": "0001-01-01T00:00:00Z"}, "occurred_after"),
    ],
)
def test_filter_dates_beyond_the_supported_years_are_refused(scanner_api, admin_client, params, field):
    response = scanner_api.get(URL, params)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    page = admin_client.get("/events/", params)
    assert page.status_code == 200
    assert field in page.content.decode()


def test_filter_dates_with_any_iso_utc_offset_filter_in_utc(scanner_api, admin_client):
    """Found by the API fuzz test: ISO 8601 allows offsets up to ±23:59, PostgreSQL ±15:59 (a 500)."""
    services.ingest([vulnerability(occurred_at="2026-11-20T10:00:00Z")], source="api")
    for params, count in (
        ({"occurred_before": "2026-11-20T00:00:00-17:45"}, 1),  # 17:45 UTC
        ({"occurred_after": "2026-11-20T23:59:00+23:59"}, 1),  # 00:00 UTC
        ({"occurred_after": "2026-11-20T00:00:00-17:45"}, 0),
    ):
        response = scanner_api.get(URL, params)
        assert response.status_code == 200, response.content
        assert len(response.json()["results"]) == count, params
        assert admin_client.get("/events/", params).status_code == 200


def test_event_ids_beyond_the_database_range_are_not_found(scanner_api, admin_client):
    assert scanner_api.get(f"{URL}{HUGE_ID}/").status_code == 404
    assert scanner_api.get(f"{URL}-1/").status_code == 404
    assert admin_client.get(f"/events/{HUGE_ID}/").status_code == 404
    assert admin_client.get("/events/", {"before": HUGE_ID}).status_code == 200
    assert admin_client.get("/events/", {"before": "\u00b2"}).status_code == 200  # "²".isdigit(), but not int("²")


def repositories(client, pattern: str) -> list[str]:
    response = client.get(URL, {"repository": pattern})
    assert response.status_code == 200, response.content
    return sorted(e["repository"] for e in response.json()["results"])


def test_a_repository_glob_with_several_stars_filters_on_every_database(scanner_api, admin_client):
    services.ingest(
        [vulnerability(repository=name, finding_id=name) for name in ("axbyc", "abc", "ab", "xabc", "a.b.c")],
        source="api",
    )
    assert repositories(scanner_api, "a*b*c") == ["a.b.c", "abc", "axbyc"]
    assert repositories(scanner_api, "a?b?c") == ["a.b.c", "axbyc"]
    assert repositories(scanner_api, "[ax]b*") == ["ab", "abc"]
    assert repositories(scanner_api, "[!a]*") == ["xabc"]
    assert repositories(scanner_api, "a.b*") == ["a.b.c"]
    assert admin_client.get("/events/", {"repository": "a*b*c"}).status_code == 200


@pytest.mark.parametrize("pattern", ["a*b*c*d*e*f*g*h*i*j*k*z", "*a*a*a*a*a*a*a*a*a*a*b", "[", "a[", "[]", "\\", "(*)"])
def test_odd_repository_globs_answer_quickly_without_error(scanner_api, pattern):
    services.ingest([vulnerability(repository="a" * 250)], source="api")
    response = scanner_api.get(URL, {"repository": pattern})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("param", ["search", "repository", "cluster", "finding_id"])
def test_a_nul_character_in_a_filter_is_refused(scanner_api, admin_client, param):
    response = scanner_api.get(URL, {param: "a\x00b"})
    assert response.status_code == 400, response.content
    assert param in response.json()["errors"]
    page = admin_client.get("/events/", {param: "a\x00b"})
    assert page.status_code in (200, 400) and param in page.content.decode()


# --- the per-request cap applies to native ingestion ----------------------------------------------------------------


@override_settings(KCS_MAX_EVENTS_PER_REQUEST=5)
def test_native_ingest_refuses_more_events_than_the_cap_with_413(scanner_api):
    body = "\n".join(json.dumps(falco_alert(n)) for n in range(6)).encode()
    response = scanner_api.generic("POST", "/api/v1/ingest/falco/", body, content_type="application/json")
    assert response.status_code == 413, response.content
    detail = response.json()["detail"]
    assert "5" in detail and "6" in detail and "KCS_MAX_EVENTS_PER_REQUEST" in detail
    assert SecurityEvent.objects.count() == 0 and EventBatch.objects.count() == 0


@override_settings(KCS_MAX_EVENTS_PER_REQUEST=5)
def test_native_ingest_at_the_cap_is_accepted(scanner_api):
    body = "\n".join(json.dumps(falco_alert(n)) for n in range(5)).encode()
    response = scanner_api.generic("POST", "/api/v1/ingest/falco/", body, content_type="application/json")
    assert response.status_code == 201, response.content


@override_settings(KCS_MAX_EVENTS_PER_REQUEST=5)
def test_the_ingest_command_is_not_capped_for_big_files(tmp_path):
    report = tmp_path / "alerts.jsonl"
    report.write_text("\n".join(json.dumps(falco_alert(n)) for n in range(6)))
    call_command("ingest", "falco", str(report), stdout=io.StringIO())
    assert SecurityEvent.objects.count() == 6
