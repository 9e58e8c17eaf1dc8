"""Every model has a working admin list with search, and immutable records cannot be edited there."""

import pytest
from django.contrib import admin

from events import services
from tests.factories import vulnerability

pytestmark = pytest.mark.django_db


def test_every_registered_model_lists_and_searches(admin_client):
    services.ingest([vulnerability()], source="api")
    for model, model_admin in admin.site._registry.items():
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = admin_client.get(url, {"q": "x"} if model_admin.search_fields else {})
        assert response.status_code == 200, (url, response.status_code)


def test_security_events_are_read_only_in_the_admin(admin_client):
    event_id = services.ingest([vulnerability()], source="api").ids[0]
    assert admin_client.get("/admin/events/securityevent/add/").status_code == 403
    page = admin_client.get(f"/admin/events/securityevent/{event_id}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(f"/admin/events/securityevent/{event_id}/delete/", {"post": "yes"}).status_code == 403
