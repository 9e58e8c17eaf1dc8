"""Response policies and scopes follow the person's scopes (issue 10 §3, KCS's rules): an IS officer limited to the
``prod`` scope sees the policies written by someone of their role (a) or using one of their scopes (b, c), changes
only those whose every scope they hold (or of their role), gives policies only their scopes, and meets 404 outside."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from events.models import SecurityEvent
from kcs.models import AuditEntry
from policies.index_cache import invalidate
from policies.models import ResponsePolicy, Scope
from policies.permissions import READ_ONLY_POLICY
from tests.factories import (
    POLICIES,
    SCOPES,
    NotificationIntegrationFactory,
    ResponsePolicyFactory,
    UserFactory,
    body,
    form_data,
    make_batch,
    make_role,
    token_client,
)
from tests.scoping import build_world

pytestmark = pytest.mark.django_db

LIST = "/policies/response/"
ADD = "/policies/response/add/"
PREVIEW = POLICIES + "preview/"


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def prod_client(client, world):
    client.force_login(world.prod_officer)
    return client


@pytest.fixture
def prod_api(world):
    return token_client(world.prod_officer)


@pytest.fixture
def outputs(db):
    return {
        "mail": NotificationIntegrationFactory(kind="email"),
        "chat": NotificationIntegrationFactory(kind="telegram"),
    }


def _edit(policy) -> str:
    return f"{LIST}{policy.pk}/"


def _offers(page: str, scope) -> bool:
    return f'name="scopes" value="{scope.pk}"' in page


def _names(answer) -> set[str]:
    return {row["name"] for row in answer.json()["results"]}


VISIBLE = {"Prod criticals", "Prod and staging", "Peer's staging"}


# --- what the list shows ------------------------------------------------------------------------------------------
def test_the_list_shows_policies_of_my_role_and_of_my_scopes_only(prod_client, world):
    page = prod_client.get(LIST).content.decode()
    for name in ("Prod criticals", "Prod and staging", "Peer&#x27;s staging"):
        assert name in page
    assert "Staging only" not in page and "Everywhere" not in page
    assert "3 policies" in page


def test_the_api_lists_the_same_policies_whatever_my_active_scope(prod_api, world):
    assert _names(prod_api.get(POLICIES)) == VISIBLE
    # (b) lies inside (c): selecting one held scope does not hide the others' policies, as in KCS.
    assert _names(prod_api.get(POLICIES, {"scope": world.prod.pk})) == VISIBLE
    refused = prod_api.get(POLICIES, {"scope": world.staging.pk})
    assert refused.status_code == 400 and "scope" in refused.json()["errors"]


def test_an_unrestricted_officer_sees_every_policy(world):
    names = _names(token_client(world.peer).get(POLICIES))
    assert names == VISIBLE | {"Staging only", "Everywhere"}


def test_a_custom_role_with_the_prod_scope_sees_the_policies_of_prod(world):
    role = make_role("PRODVIEW", rights=["policies.view_responsepolicy"], scopes=[world.prod])
    viewer = UserFactory(username="prod-viewer")
    viewer.groups.add(role.group)
    assert _names(token_client(viewer).get(POLICIES)) == {"Prod criticals", "Prod and staging"}


def test_a_person_without_any_scope_sees_no_policy(world):
    bare = UserFactory(rights=["policies.view_responsepolicy"])
    assert token_client(bare).get(POLICIES).json()["count"] == 0


# --- outside: 404 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["in_staging", "everywhere"])
def test_a_policy_outside_my_scopes_answers_404_on_every_screen(prod_client, world, outputs, policy):
    target = getattr(world, policy)
    assert prod_client.get(_edit(target)).status_code == 404
    data = form_data(world.prod, [("email", outputs["mail"].pk)], name="Taken over")
    assert prod_client.post(_edit(target), data).status_code == 404
    assert prod_client.post(f"{_edit(target)}toggle/", {"enabled": "0"}).status_code == 404
    assert prod_client.get(f"{_edit(target)}delete/").status_code == 404
    assert prod_client.post(f"{_edit(target)}delete/").status_code == 404
    target.refresh_from_db()
    assert target.enabled and target.name != "Taken over"


@pytest.mark.parametrize("policy", ["in_staging", "everywhere"])
def test_a_policy_outside_my_scopes_answers_404_in_the_api(prod_api, world, policy):
    url = f"{POLICIES}{getattr(world, policy).pk}/"
    assert prod_api.get(url).status_code == 404
    assert prod_api.patch(url, {"enabled": False}, format="json").status_code == 404
    assert prod_api.delete(url).status_code == 404
    assert ResponsePolicy.objects.filter(pk=getattr(world, policy).pk, enabled=True).exists()


# --- read-only: rule (c) alone ------------------------------------------------------------------------------------
def test_a_policy_touching_a_scope_i_do_not_hold_has_no_edit_controls(prod_client, world):
    page = prod_client.get(LIST).content.decode()
    assert f'action="{_edit(world.in_prod)}toggle/"' in page and f'href="{_edit(world.in_prod)}delete/"' in page
    assert f'action="{_edit(world.by_peer)}toggle/"' in page  # rule (a): editable although staging is not mine
    assert f'action="{_edit(world.mixed)}toggle/"' not in page
    assert f'href="{_edit(world.mixed)}delete/"' not in page
    assert "Read-only" in page


def test_the_read_only_policy_page_shows_no_form(prod_client, world):
    page = prod_client.get(_edit(world.mixed)).content.decode()
    assert "Prod and staging" in page and "<form" not in page.split("<main", 1)[-1].split("</main>")[0]
    assert "it also covers scopes you do not hold" in page


def test_every_write_to_a_read_only_policy_is_refused_with_why(prod_client, world, outputs):
    data = form_data(world.prod, [("email", outputs["mail"].pk)], name="Renamed")
    for answer in (
        prod_client.post(_edit(world.mixed), data),
        prod_client.post(f"{_edit(world.mixed)}toggle/", {"enabled": "0"}),
        prod_client.get(f"{_edit(world.mixed)}delete/"),
        prod_client.post(f"{_edit(world.mixed)}delete/"),
    ):
        assert answer.status_code == 403
        assert escape(READ_ONLY_POLICY) in answer.content.decode()
    world.mixed.refresh_from_db()
    assert world.mixed.name == "Prod and staging" and world.mixed.enabled
    assert not AuditEntry.objects.filter(object_type="response policy").exists()


def test_every_api_write_to_a_read_only_policy_is_a_403_with_why(prod_api, world, outputs):
    url = f"{POLICIES}{world.mixed.pk}/"
    assert prod_api.get(url).status_code == 200
    for answer in (
        prod_api.patch(url, {"enabled": False}, format="json"),
        prod_api.put(url, body(world.prod, outputs, name="Renamed"), format="json"),
        prod_api.delete(url),
    ):
        assert answer.status_code == 403
        assert answer.json()["detail"] == READ_ONLY_POLICY
    assert ResponsePolicy.objects.filter(pk=world.mixed.pk, enabled=True, name="Prod and staging").exists()


def test_policies_of_my_scopes_and_of_my_role_can_be_changed(prod_api, world):
    for policy in (world.in_prod, world.by_peer):
        answer = prod_api.patch(f"{POLICIES}{policy.pk}/", {"enabled": False}, format="json")
        assert answer.status_code == 200, answer.json()
        assert answer.json()["enabled"] is False


# --- which scopes a policy may be given ---------------------------------------------------------------------------
def test_the_form_offers_only_my_scopes(prod_client, world):
    page = prod_client.get(ADD).content.decode()
    assert _offers(page, world.prod)
    assert not _offers(page, world.staging) and not _offers(page, world.global_scope)
    assert re.search(rf'name="scopes" value="{world.prod.pk}"[^>]* checked', page)  # my only scope, chosen


def test_the_edit_form_also_offers_the_scopes_the_policy_already_has(prod_client, world):
    page = prod_client.get(_edit(world.by_peer)).content.decode()
    assert _offers(page, world.prod) and _offers(page, world.staging)
    assert not _offers(page, world.global_scope)


def test_a_scope_i_do_not_hold_is_refused_on_the_form(prod_client, world, outputs):
    data = form_data(world.staging, [("email", outputs["mail"].pk)], name="Sneaky")
    answer = prod_client.post(ADD, data)
    assert answer.status_code == 400
    assert f"The scope with id {world.staging.pk} is not one of your scopes" in answer.content.decode()
    everywhere = prod_client.post(ADD, form_data(world.global_scope, [("email", outputs["mail"].pk)], name="Wide"))
    assert everywhere.status_code == 400
    assert "Choosing the Global scope needs the right View the Global scope." in everywhere.content.decode()
    assert not ResponsePolicy.objects.filter(name__in=["Sneaky", "Wide"]).exists()


def test_the_api_refuses_a_scope_i_do_not_hold_naming_scopes(prod_api, world, outputs):
    answer = prod_api.post(POLICIES, body(world.staging, outputs, name="Sneaky"), format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"]["scopes"] == [
        f"The scope with id {world.staging.pk} is not one of your scopes: choose among the scopes you hold."
    ]
    wide = prod_api.post(POLICIES, body(world.global_scope, outputs, name="Wide"), format="json")
    assert wide.status_code == 400
    assert wide.json()["errors"]["scopes"] == ["Choosing the Global scope needs the right View the Global scope."]
    made = prod_api.post(POLICIES, body(world.prod, outputs, name="Mine"), format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["scopes"] == [world.prod.pk]


def test_scopes_already_on_a_policy_may_stay_but_none_may_be_added(prod_api, world):
    url = f"{POLICIES}{world.by_peer.pk}/"
    kept = prod_api.patch(url, {"scopes": [world.staging.pk, world.prod.pk]}, format="json")
    assert kept.status_code == 200, kept.json()
    widened = prod_api.patch(url, {"scopes": [world.staging.pk, world.global_scope.pk]}, format="json")
    assert widened.status_code == 400 and "scopes" in widened.json()["errors"]
    assert set(world.by_peer.scopes.values_list("name", flat=True)) == {"staging", "prod"}


def test_the_preview_draft_obeys_the_same_scope_rule(prod_api, world, outputs):
    refused = prod_api.post(PREVIEW, body(world.staging, outputs), format="json")
    assert refused.status_code == 400 and "scopes" in refused.json()["errors"]
    assert prod_api.post(PREVIEW, body(world.prod, outputs), format="json").status_code == 200
    # The saved policy compared with must be one I see; its own scopes may stay in the draft.
    hidden = prod_api.post(PREVIEW, body(world.prod, outputs) | {"policy": world.in_staging.pk}, format="json")
    assert hidden.status_code == 400 and "policy" in hidden.json()["errors"]
    kept = body(world.staging, outputs) | {"policy": world.by_peer.pk}
    assert prod_api.post(PREVIEW, kept, format="json").status_code == 200


# --- scopes -------------------------------------------------------------------------------------------------------
def test_the_scopes_page_and_api_list_only_my_scopes(prod_client, prod_api, world):
    page = prod_client.get("/policies/scopes/").content.decode()
    assert ">prod<" in page and "staging" not in page and "Global" not in page.split("<main", 1)[-1]
    assert [scope["name"] for scope in prod_api.get(SCOPES).json()["results"]] == ["prod"]


def test_a_scope_i_do_not_hold_answers_404(prod_client, prod_api, world):
    for scope in (world.staging, world.global_scope):
        assert prod_client.get(f"/policies/scopes/{scope.pk}/").status_code == 404
        assert prod_client.post(f"/policies/scopes/{scope.pk}/delete/").status_code == 404
        assert prod_api.get(f"{SCOPES}{scope.pk}/").status_code == 404
        assert prod_api.patch(f"{SCOPES}{scope.pk}/", {"name": "mine"}, format="json").status_code == 404
    assert Scope.objects.filter(name="staging").exists()


def test_an_unrestricted_officer_lists_every_scope_with_global_first(world):
    names = [scope["name"] for scope in token_client(world.peer).get(SCOPES).json()["results"]]
    assert names == ["Global", "prod", "staging"]


# --- speed --------------------------------------------------------------------------------------------------------
def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return len(queries)


def test_the_scoped_list_runs_the_same_number_of_queries_for_5_and_50_policies(prod_client, world):
    def add(first, last):
        for number in range(first, last):
            scopes = [world.prod] if number % 2 else [world.prod, world.staging]
            ResponsePolicyFactory(name=f"Bulk {number:02d}", scopes=scopes, created_by=world.admin)

    add(0, 5)
    few = _list_queries(prod_client)
    add(5, 50)
    assert _list_queries(prod_client) == few
    assert few <= 10


# --- the decision trace -------------------------------------------------------------------------------------------
def test_the_decision_trace_lists_only_policies_i_see_and_hides_events_outside(prod_api, world):
    invalidate()  # the policies were stored directly: the engine's index must see them
    in_prod = SecurityEvent.objects.get(batch=make_batch(1, cluster="prod-eu"))
    in_staging = SecurityEvent.objects.get(batch=make_batch(1, cluster="staging-1"))
    answer = prod_api.get(f"/api/v1/events/{in_prod.pk}/decisions/")
    assert answer.status_code == 200
    assert {row["policy_name"] for row in answer.json()} == VISIBLE
    assert prod_api.get(f"/api/v1/events/{in_staging.pk}/decisions/").status_code == 404
    everything = token_client(world.peer).get(f"/api/v1/events/{in_prod.pk}/decisions/").json()
    assert {row["policy_name"] for row in everything} == VISIBLE | {"Staging only", "Everywhere"}
