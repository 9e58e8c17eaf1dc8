"""Silences follow the person's scopes (issue 10 §3): an IS officer limited to the ``prod`` scope (clusters
``prod-*``) sees a silence written by someone of their role, limited to a policy they see, or whose resource
matchers lie in prod (one without resource matchers is everyone's); others answer 404. What they make must lie
inside one of their scopes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import NotificationStatus
from policies.models import Silence
from tests.factories import NotificationFactory, SilenceFactory, UserFactory, make_batch, token_client
from tests.scoping import build_world

pytestmark = pytest.mark.django_db

URL = "/api/v1/silences/"
LIST = "/policies/silences/"
ADD = "/policies/silences/add/"


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def silences(world):
    def silence(comment, matchers, author=None, policies=()):
        return SilenceFactory(comment=comment, matchers=matchers, created_by=author or world.admin, policies=policies)

    return {
        "prod": silence("prod cluster", {"cluster": "prod-eu", "finding_id": "CVE-1"}),
        "prod glob": silence("every prod cluster", {"cluster": "prod-*"}),
        "namespace": silence("a namespace anywhere", {"namespace": "payments"}),  # prod constrains clusters only
        "no resource": silence("one finding everywhere", {"finding_id": "CVE-2"}),
        "staging": silence("staging cluster", {"cluster": "staging-1"}),
        "wide glob": silence("every cluster", {"cluster": "*"}),
        "for my policy": silence("staging, for a prod policy", {"cluster": "staging-1"}, policies=[world.in_prod.pk]),
        "for a hidden policy": silence("staging policy", {"cluster": "staging-2"}, policies=[world.in_staging.pk]),
        "by my role": silence("by a fellow officer", {"cluster": "staging-3"}, author=world.peer),
    }


SEEN = {"prod", "prod glob", "namespace", "no resource", "for my policy", "by my role"}
HIDDEN = {"staging", "wide glob", "for a hidden policy"}


@pytest.fixture
def prod_api(world):
    return token_client(world.prod_officer)


@pytest.fixture
def prod_client(client, world):
    client.force_login(world.prod_officer)
    return client


def _comments(answer) -> set[str]:
    return {row["comment"] for row in answer.json()["results"]}


def _body(**fields) -> dict:
    return {"matchers": {"cluster": "prod-eu"}, "duration": "4h", "comment": "Known, fix on its way"} | fields


def test_the_api_lists_the_silences_the_rules_show(prod_api, silences):
    assert _comments(prod_api.get(URL)) == {silences[key].comment for key in SEEN}


def test_the_list_screen_shows_the_same_silences(prod_client, silences):
    page = prod_client.get(LIST, {"state": "all"}).content.decode()
    for key in SEEN:
        assert f"{LIST}{silences[key].pk}/" in page, key
    for key in HIDDEN:
        assert f"{LIST}{silences[key].pk}/" not in page, key


def test_an_unrestricted_officer_sees_every_silence(world, silences):
    assert len(_comments(token_client(world.peer).get(URL))) == len(silences)


def test_selecting_the_active_scope_in_the_api(world, prod_api, silences):
    answer = prod_api.get(URL, {"scope": world.prod.pk})
    assert answer.status_code == 200 and _comments(answer) == {silences[key].comment for key in SEEN}
    assert prod_api.get(URL, {"scope": world.staging.pk}).status_code == 400


@pytest.mark.parametrize("key", sorted(HIDDEN))
def test_a_silence_outside_answers_404_everywhere(prod_api, prod_client, silences, key):
    silence = silences[key]
    assert prod_api.get(f"{URL}{silence.pk}/").status_code == 404
    assert prod_api.patch(f"{URL}{silence.pk}/", {"comment": "mine now"}, format="json").status_code == 404
    assert prod_api.post(f"{URL}{silence.pk}/expire/").status_code == 404
    assert prod_api.delete(f"{URL}{silence.pk}/").status_code == 404
    for path in ("", "edit/", "expire/"):
        assert prod_client.get(f"{LIST}{silence.pk}/{path}").status_code == 404
    assert prod_client.post(f"{LIST}{silence.pk}/expire/").status_code == 404
    silence.refresh_from_db()
    assert silence.expired_at is None and not Silence.objects.filter(replaces=silence).exists()


def test_a_visible_silence_can_be_expired(prod_api, silences):
    answer = prod_api.post(f"{URL}{silences['for my policy'].pk}/expire/")
    assert answer.status_code == 200 and answer.json()["state"] == "expired"


def test_a_silence_made_inside_my_scope_is_stored(prod_api, world):
    made = prod_api.post(URL, _body(policies=[world.in_prod.pk]), format="json")
    assert made.status_code == 201, made.json()
    glob = prod_api.post(URL, _body(matchers={"cluster": "prod-*", "repository": "shop/*"}), format="json")
    assert glob.status_code == 201, glob.json()


@pytest.mark.parametrize(
    ("matchers", "message"),
    [
        ({"cluster": "staging-1"}, "cluster: “staging-1” is outside your scope “prod” (prod-*)."),
        ({"cluster": "*"}, "cluster: “*” is outside your scope “prod” (prod-*)."),
        ({"namespace": "payments"}, "cluster: give one inside your scope “prod” (prod-*)."),
        ({"finding_id": "CVE-1"}, "Give a cluster, namespace, registry or repository inside one of your scopes"),
    ],
)
def test_a_silence_beyond_my_scopes_is_refused_naming_matchers(prod_api, matchers, message):
    answer = prod_api.post(URL, _body(matchers=matchers), format="json")
    assert answer.status_code == 400
    assert any(text.startswith(message) for text in answer.json()["errors"]["matchers"]), answer.json()
    assert not Silence.objects.exists()


def test_a_policy_i_do_not_see_cannot_be_named(prod_api, world):
    answer = prod_api.post(URL, _body(policies=[world.in_staging.pk]), format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"]["policies"] == [f"No response policy with id {world.in_staging.pk}."]


def test_a_new_version_must_lie_inside_my_scopes_too(prod_api, silences):
    url = f"{URL}{silences['by my role'].pk}/"
    widened = prod_api.patch(url, {"matchers": {"cluster": "staging-*"}}, format="json")
    assert widened.status_code == 400 and "matchers" in widened.json()["errors"]
    narrowed = prod_api.patch(url, {"matchers": {"cluster": "prod-eu"}}, format="json")
    assert narrowed.status_code == 200, narrowed.json()


def test_a_holder_of_global_may_silence_a_finding_everywhere(world):
    answer = token_client(world.peer).post(URL, _body(matchers={"finding_id": "CVE-9"}), format="json")
    assert answer.status_code == 201, answer.json()


def test_the_form_shows_why_beside_the_cluster_input_and_offers_only_my_policies(prod_client, world):
    page = prod_client.get(ADD).content.decode()
    assert "Prod criticals" in page and "Staging only" not in page
    data = {"cluster": "staging-1", "duration": "4h", "comment": "mine"}
    answer = prod_client.post(ADD, data)
    assert answer.status_code == 400
    assert "“staging-1” is outside your scope “prod” (prod-*)." in answer.content.decode()
    assert not Silence.objects.exists()


def test_the_silence_page_counts_only_what_i_see_of_what_it_muted(prod_client, world, silences):
    silence = silences["prod glob"]
    muted = f"silence:{silence.pk}"
    prod_events = make_batch(1, cluster="prod-eu").events.all()
    staging_events = make_batch(1, cluster="staging-1").events.all()
    NotificationFactory(policy=world.in_prod, status=NotificationStatus.MUTED, muted_by=muted, events=prod_events)
    NotificationFactory(policy=world.in_staging, status=NotificationStatus.MUTED, muted_by=muted, events=staging_events)
    page = prod_client.get(f"{LIST}{silence.pk}/").content.decode()
    assert f"/notifications/{prod_events[0].notifications.get().pk}/" in page
    assert f"/notifications/{staging_events[0].notifications.get().pk}/" not in page


def test_the_scoped_list_costs_the_same_queries_for_3_or_25_silences(prod_client, world):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert prod_client.get(LIST).status_code == 200
        return len(captured)

    for _ in range(3):
        SilenceFactory(matchers={"cluster": "prod-eu"}, policies=[world.in_prod.pk])
    few = queries()
    for _ in range(22):
        SilenceFactory(matchers={"cluster": "prod-eu"}, policies=[world.in_prod.pk])
    assert queries() == few


def test_a_policy_i_do_not_see_is_not_named_on_the_silence_pages(prod_client, client, world):
    silence = SilenceFactory(matchers={"finding_id": "CVE-3"}, policies=[world.in_staging.pk, world.in_prod.pk])
    for page in (prod_client.get(f"{LIST}{silence.pk}/"), prod_client.get(LIST)):
        text = page.content.decode()
        assert world.in_prod.name in text and world.in_staging.name not in text
        assert f'#{world.in_staging.pk} <span class="muted">(not one of your policies)</span>' in text
    client.force_login(UserFactory(rights=["policies.view_silence"]))  # no scope at all: sees no policy
    text = client.get(f"{LIST}{silence.pk}/").content.decode()
    assert world.in_prod.name not in text and "(not one of your policies)" in text
