"""The delivery log follows the person's scopes (issue 10 §3): a notification is seen when its response policy is
(KCS's rules); a person whose active scopes include Global sees every row, SIEM stream rows included. Outside: 404."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kcs.rights import MANAGE_INTEGRATIONS, VIEW_INTEGRATIONS
from notifications.models import Notification, NotificationStream
from tests.factories import NotificationFactory, UserFactory, make_role, token_client
from tests.scoping import build_world

pytestmark = pytest.mark.django_db

API = "/api/v1/notifications/"
LOG = "/notifications/"


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def rows(world):
    return {
        "prod": NotificationFactory(policy=world.in_prod, policy_name=world.in_prod.name, status="failed"),
        "mixed": NotificationFactory(policy=world.mixed, policy_name=world.mixed.name),
        "peer": NotificationFactory(policy=world.by_peer, policy_name=world.by_peer.name),
        "staging": NotificationFactory(policy=world.in_staging, policy_name=world.in_staging.name, status="failed"),
        "siem": NotificationFactory(stream=NotificationStream.AUDIT, policy_name="", status="failed"),
    }


SEEN = {"prod", "mixed", "peer"}


@pytest.fixture
def prod_api(world):
    return token_client(world.prod_officer)


@pytest.fixture
def prod_client(client, world):
    client.force_login(world.prod_officer)
    return client


def _ids(answer) -> set[int]:
    return {row["id"] for row in answer.json()["results"]}


def test_the_api_lists_the_notifications_of_policies_i_see(prod_api, rows, world):
    assert _ids(prod_api.get(API)) == {rows[key].pk for key in SEEN}
    assert _ids(prod_api.get(API, {"scope": world.prod.pk})) == {rows[key].pk for key in SEEN}
    assert prod_api.get(API, {"scope": world.staging.pk}).status_code == 400


def test_filtering_by_a_policy_i_do_not_see_is_not_a_valid_choice(prod_api, rows, world):
    assert prod_api.get(API, {"policy": world.in_staging.pk}).status_code == 400
    assert _ids(prod_api.get(API, {"policy": world.in_prod.pk})) == {rows["prod"].pk}


def test_an_unrestricted_officer_sees_every_row_siem_streams_included(world, rows):
    assert _ids(token_client(world.peer).get(API)) == {row.pk for row in rows.values()}


def test_the_log_screen_shows_the_same_rows_and_offers_only_my_policies(prod_client, rows, world):
    page = prod_client.get(LOG, {"show": "all"}).content.decode()
    for key, row in rows.items():
        assert (f'href="/notifications/{row.pk}/"' in page) is (key in SEEN), key
    assert world.in_prod.name in page and world.in_staging.name not in page


@pytest.mark.parametrize("key", ["staging", "siem"])
def test_a_notification_outside_answers_404(prod_api, prod_client, world, rows, key):
    row = rows[key]
    assert prod_api.get(f"{API}{row.pk}/").status_code == 404
    assert prod_client.get(f"{LOG}{row.pk}/").status_code == 404


@pytest.fixture
def retrier(world):
    """Someone who may retry deliveries, through a custom role holding the prod scope."""
    role = make_role("RETRY", rights=[VIEW_INTEGRATIONS, MANAGE_INTEGRATIONS], scopes=[world.prod])
    person = UserFactory(username="retrier")
    person.groups.add(role.group)
    return person


@pytest.mark.parametrize("key", ["staging", "siem"])
def test_retrying_a_notification_outside_answers_404(retrier, rows, key):
    client = token_client(retrier)
    assert client.post(f"{API}{rows[key].pk}/retry/").status_code == 404
    assert client.post(f"{API}{rows['prod'].pk}/retry/").status_code == 200
    assert Notification.objects.get(pk=rows[key].pk).status == "failed"


def test_retrying_on_screen_outside_answers_404(client, retrier, rows):
    client.force_login(retrier)
    assert client.post(f"{LOG}{rows['staging'].pk}/retry/").status_code == 404
    assert Notification.objects.get(pk=rows["staging"].pk).status == "failed"


def test_the_scoped_log_runs_the_same_number_of_queries_for_few_and_many_rows(prod_client, world):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert prod_client.get(LOG).status_code == 200
        return len(captured)

    for _ in range(3):
        NotificationFactory(policy=world.in_prod, policy_name=world.in_prod.name)
    few = queries()
    for _ in range(30):
        NotificationFactory(policy=world.mixed, policy_name=world.mixed.name)
    assert queries() == few
    assert few <= 14


def test_the_integration_page_names_only_the_policies_i_see(prod_client, world):
    integration = world.in_prod.notification_methods.get().integration
    world.in_staging.notification_methods.update(integration=integration)
    page = prod_client.get(f"/integrations/{integration.kind}/{integration.pk}/").content.decode()
    assert world.in_prod.name in page and world.in_staging.name not in page


def test_deleting_an_integration_in_use_names_only_the_policies_i_see(client, retrier, world):
    """The refusal counts the policies outside the person's scopes without naming them: they still hold the
    deletion, and their names would leak."""
    integration = world.in_prod.notification_methods.get().integration
    world.in_staging.notification_methods.update(integration=integration)
    world.everywhere.notification_methods.update(integration=integration)
    answer = token_client(retrier).delete(f"/api/v1/integrations/{integration.pk}/")
    assert answer.status_code == 409
    body = answer.json()
    assert body["policies"] == [world.in_prod.name] and body["hidden_policies"] == 2
    assert body["detail"] == (
        f"“{integration.name}” is used by the response policies “Prod criticals” and 2 outside your scopes. "
        "Remove it from those policies first."
    )
    client.force_login(retrier)
    url = f"/integrations/{integration.kind}/{integration.pk}/delete/"
    for page in (client.get(url), client.post(url)):
        html = page.content.decode()
        assert "“Prod criticals” and 2 outside your scopes" in html
        assert world.in_staging.name not in html and world.everywhere.name not in html
    assert type(integration).objects.filter(pk=integration.pk).exists()


def test_an_integration_used_only_outside_my_scopes_is_refused_without_names(retrier, world):
    integration = world.in_staging.notification_methods.get().integration
    body = token_client(retrier).delete(f"/api/v1/integrations/{integration.pk}/").json()
    assert body["policies"] == [] and body["hidden_policies"] == 1
    assert body["detail"] == (
        f"“{integration.name}” is used by 1 response policy outside your scopes. Someone who holds its scopes must "
        "take the integration out of it first."
    )
