"""Hostile input to the policy and scope API and screens: 400 naming the field, 404 for ids, never a 500."""

from __future__ import annotations

import pytest

from policies.models import ResponsePolicy, Scope
from tests.factories import POLICIES, SCOPES, body, form_data

pytestmark = pytest.mark.django_db

HUGE = 2**64  # above 2**63 - 1: no database integer holds it
HUGE_ID = str(HUGE)


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize("url", [f"{POLICIES}{HUGE_ID}/", f"{SCOPES}{HUGE_ID}/", f"{POLICIES}0/"])
def test_ids_beyond_the_database_range_in_api_paths_are_not_found(officer_api, url, method):
    response = getattr(officer_api, method)(url, {"enabled": False}, format="json")
    assert response.status_code == 404, response.content


@pytest.mark.parametrize(
    "url",
    [
        f"/policies/response/{HUGE_ID}/",
        f"/policies/response/{HUGE_ID}/delete/",
        f"/policies/scopes/{HUGE_ID}/",
        f"/policies/scopes/{HUGE_ID}/delete/",
    ],
)
def test_ids_beyond_the_database_range_in_screen_paths_are_not_found(officer_client, url):
    assert officer_client.get(url).status_code == 404
    assert officer_client.post(url, {}).status_code == 404
    assert officer_client.post(f"/policies/response/{HUGE_ID}/toggle/", {"enabled": "0"}).status_code == 404


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"scopes": [HUGE]}, "scopes"),
        ({"scopes": [-HUGE]}, "scopes"),
        ({"notification_methods": [HUGE]}, "notification_methods"),
        ({"notification_methods": [-(2**70)]}, "notification_methods"),
        ({"notification_methods": [{"integration": HUGE, "kind": "email"}]}, "notification_methods"),
        ({"repeat_interval": 2**70}, "repeat_interval"),
    ],
)
def test_integers_beyond_the_database_range_in_a_policy_are_refused_naming_the_field(
    officer_api, make_policy, global_scope, outputs, fields, field
):
    created = officer_api.post(POLICIES, body(global_scope, outputs, **fields), format="json")
    assert created.status_code == 400, created.content
    assert field in created.json()["errors"]
    policy = make_policy()
    changed = officer_api.put(f"{POLICIES}{policy.pk}/", body(global_scope, outputs, **fields), format="json")
    assert changed.status_code == 400, changed.content
    assert field in changed.json()["errors"]
    assert ResponsePolicy.objects.count() == 1


def test_huge_ids_in_the_policy_form_are_refused_with_the_form(officer_client, global_scope, outputs):
    data = form_data(global_scope, [("email", HUGE_ID)], scopes=[global_scope.pk, HUGE_ID])
    response = officer_client.post("/policies/response/add/", data)
    assert response.status_code == 400
    assert ResponsePolicy.objects.count() == 0


def test_json_nested_too_deeply_in_a_policy_is_refused(officer_api):
    text = '{"name": "deep", "description": ' + "[" * 1000 + "]" * 1000 + "}"
    response = officer_api.generic("POST", POLICIES, text, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    "url, param",
    [
        (f"{POLICIES}?search=a%00b", "search"),
        (f"{SCOPES}?search=%00", "search"),
        (f"{POLICIES}?ordering=%00name", "ordering"),
    ],
)
def test_a_nul_character_in_an_api_search_is_refused(officer_api, url, param):
    response = officer_api.get(url)
    assert response.status_code == 400, response.content
    assert param in response.json()["errors"]


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b&sort=name", "sort=%00", "page=%00"])
def test_a_nul_character_in_the_policies_screen_search_shows_a_message(officer_client, make_policy, query):
    make_policy()
    response = officer_client.get(f"/policies/response/?{query}")
    assert response.status_code == 400
    assert "must not contain NUL" in response.content.decode()


def test_scope_patterns_with_odd_globs_are_stored_and_listed(officer_api):
    response = officer_api.post(SCOPES, {"name": "Odd", "repositories": ["a*b*c", "[z-a]", "x["]}, format="json")
    assert response.status_code == 201, response.content
    assert Scope.objects.get(name="Odd").repositories == ["a*b*c", "[z-a]", "x["]
    assert officer_api.get(SCOPES).status_code == 200
