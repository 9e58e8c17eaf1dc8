"""Hostile input at the project level: ids in paths, the security event log's date filters and NUL characters in
query strings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import Resolver404, resolve

from kcs.api import router
from tests.factories import AuditEntryFactory

HUGE_ID = str(2**64)


# --- ids in paths -------------------------------------------------------------------------------------------------


def test_every_api_detail_route_takes_ids_through_the_id_converter():
    for prefix, _viewset, _basename in router.registry:
        match = resolve(f"/api/v1/{prefix}/12/")
        assert match.kwargs == {"pk": 12}, prefix
        with pytest.raises(Resolver404):
            resolve(f"/api/v1/{prefix}/{HUGE_ID}/")


@pytest.mark.django_db
def test_revoking_a_token_with_a_huge_id_is_not_found(admin_client):
    assert admin_client.post(f"/tokens/{HUGE_ID}/revoke/").status_code == 404


# --- the security event log's dates -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [
        ({"until": "9999-12-31"}, "until"),
        ({"since": "9999-12-31"}, "since"),
        ({"since": "0001-01-01T00:00:00+14:00"}, "since"),
        ({"until": "9999-12-31T23:59:59-14:00"}, "until"),
        ({"since": "0001-01-01"}, "since"),
    ],
)
def test_security_log_dates_beyond_the_supported_years_are_refused(admin_api, admin_client, params, field):
    response = admin_api.get("/api/v1/audit-log/", params)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"] and "9000" in response.json()["errors"][field][0]
    page = admin_client.get("/security-log/", params)
    assert page.status_code == 200
    assert "9000-12-31" in page.content.decode()


@pytest.mark.django_db
def test_security_log_dates_at_the_edges_are_accepted(admin_api):
    assert admin_api.get("/api/v1/audit-log/", {"since": "1970-01-01", "until": "9000-12-31"}).status_code == 200


@pytest.mark.django_db
def test_security_log_date_times_with_any_iso_utc_offset_filter_in_utc(admin_api, admin_client):
    """ISO 8601 allows UTC offsets up to ±23:59, PostgreSQL ±15:59: such a filter was a 500 there."""
    AuditEntryFactory(timestamp=dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC))
    for params, count in (({"until": "2026-11-20T00:00:00-17:45"}, 1), ({"since": "2026-11-20T00:00:00-17:45"}, 0)):
        response = admin_api.get("/api/v1/audit-log/", params)
        assert response.status_code == 200, response.content
        assert response.json()["count"] == count, params
        assert admin_client.get("/security-log/", params).status_code == 200


# --- NUL characters in query strings ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit-log/?actor=%00",
        "/api/v1/events/?search=a%00",
        "/api/v1/events/?%00=1",
        "/admin/events/securityevent/?q=%00",
        "/security-log/?object_type=%00",
        "/integrations/?x=%00",
    ],
)
def test_a_nul_character_anywhere_in_a_query_string_is_a_400_naming_the_parameter(admin_api, admin_client, url):
    response = admin_api.get(url) if url.startswith("/api/") else admin_client.get(url)
    assert response.status_code == 400
    assert "must not contain NUL" in response.content.decode()
