"""The Events screens: list with filters, one event with its response."""

import pytest

from events import services
from events.models import EventBatch
from tests.factories import give_scopes, global_scope, grant, vulnerability

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw-view-123")
    grant(user, "events.view_securityevent")
    give_scopes(user, [global_scope()])  # every event: these tests are about the screens, not the scopes
    client.force_login(user)
    return client


def test_event_list_shows_newest_first_and_filters(viewer):
    services.ingest(
        [
            vulnerability(finding_id="CVE-OLD", severity="low"),
            vulnerability(finding_id="CVE-NEW", title="<script>alert(1)</script>"),
        ],
        source="api",
    )
    page = viewer.get("/events/").content.decode()
    assert page.index("CVE-NEW") < page.index("CVE-OLD")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    filtered = viewer.get("/events/", {"min_severity": "high"}).content.decode()
    assert "CVE-NEW" in filtered and "CVE-OLD" not in filtered


def test_event_list_pages_to_older_events(viewer):
    services.ingest([vulnerability(finding_id=f"CVE-{i:03d}") for i in range(55)], source="api")
    first = viewer.get("/events/")
    assert first.content.decode().count("sev sev-critical") == 50
    older = first.context["older_query"]
    second = viewer.get(f"/events/?{older}").content.decode()
    assert second.count("sev sev-critical") == 5


def test_bad_filter_shows_a_message_not_an_error_page(viewer):
    response = viewer.get("/events/", {"min_severity": "extreme"})
    assert response.status_code == 200
    assert "min_severity" in response.content.decode()


def test_event_page_shows_finding_resource_and_evaluation_state(viewer):
    result = services.ingest([vulnerability(cluster="prod-eu", namespace="shop")], source="api")
    page = viewer.get(f"/events/{result.ids[0]}/").content.decode()
    assert "CVE-2023-0286" in page
    assert "registry.example.com/shop/payments:2.3.1@sha256:" in page
    assert "fixed in <strong>3.0.8-r0</strong>" in page
    assert "prod-eu" in page
    assert "have not been evaluated" in page
    EventBatch.objects.update(evaluated_at="2026-11-26T10:00:00Z")
    assert "No enabled response policy matched" in viewer.get(f"/events/{result.ids[0]}/").content.decode()


def test_events_need_the_view_right(client, plain_user):
    client.force_login(plain_user)
    assert client.get("/events/").status_code == 403
    client.logout()
    assert client.get("/events/").status_code == 302  # to the login page


def test_unknown_event_is_404(viewer):
    assert viewer.get("/events/424242/").status_code == 404


def test_event_page_lists_the_policies_and_notifications_that_carried_it(viewer):
    from notifications.models import Notification, NotificationIntegration, NotificationStatus
    from policies.models import ResponsePolicy

    result = services.ingest([vulnerability()], source="api")
    hook = NotificationIntegration.objects.create(name="SOC hook", kind="webhook")
    policy = ResponsePolicy.objects.create(name="Prod criticals", trigger="critical_vulnerabilities")
    sent = Notification.objects.create(
        policy=policy,
        policy_name=policy.name,
        integration=hook,
        integration_name=hook.name,
        status=NotificationStatus.SENT,
        idempotency_key="k1",
    )
    sent.events.add(result.ids[0])
    gone = Notification.objects.create(
        policy=None,
        policy_name="Old policy",
        integration=None,
        integration_name="Old hook",
        status=NotificationStatus.FAILED,
        last_error="HTTP 400 from receiver",
        idempotency_key="k2",
    )
    gone.events.add(result.ids[0])
    page = viewer.get(f"/events/{result.ids[0]}/").content.decode()
    assert "Prod criticals" in page and "SOC hook" in page and f"/notifications/{sent.pk}/" in page
    assert "Old policy" in page and "Old hook" in page and "(deleted)" in page
    assert "HTTP 400 from receiver" in page
