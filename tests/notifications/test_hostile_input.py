"""Hostile input to the integrations and delivery-log API and screens: 400 naming the field, 404 for ids."""

from __future__ import annotations

import json

import pytest

from notifications.models import NotificationIntegration
from tests.factories import make_integration

pytestmark = pytest.mark.django_db

HUGE_ID = str(2**64)  # above 2**63 - 1: no database integer holds it
DEEP = "[" * 1000 + "]" * 1000


def webhook(**config) -> dict:
    return {
        "name": "SIEM",
        "kind": "webhook",
        "config": {"url": "https://siem.example.com/in", "auth": "none", **config},
    }


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", f"/api/v1/integrations/{HUGE_ID}/"),
        ("patch", f"/api/v1/integrations/{HUGE_ID}/"),
        ("delete", f"/api/v1/integrations/{HUGE_ID}/"),
        ("post", f"/api/v1/integrations/{HUGE_ID}/test/"),
        ("get", f"/api/v1/notifications/{HUGE_ID}/"),
        ("post", f"/api/v1/notifications/{HUGE_ID}/retry/"),
        ("get", f"/api/v1/audit-log/{HUGE_ID}/"),
    ],
)
def test_ids_beyond_the_database_range_in_api_paths_are_not_found(admin_api, method, url):
    assert getattr(admin_api, method)(url, {}, format="json").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        f"/integrations/webhook/{HUGE_ID}/",
        f"/integrations/webhook/{HUGE_ID}/edit/",
        f"/integrations/webhook/{HUGE_ID}/delete/",
        f"/notifications/{HUGE_ID}/",
    ],
)
def test_ids_beyond_the_database_range_in_screen_paths_are_not_found(admin_client, url):
    assert admin_client.get(url).status_code == 404
    assert admin_client.post(f"/integrations/webhook/{HUGE_ID}/test/").status_code == 404
    assert admin_client.post(f"/notifications/{HUGE_ID}/retry/").status_code == 404


@pytest.mark.parametrize(
    "params, field",
    [
        ({"event": "-6654563718325455300853760"}, "event"),
        ({"event": HUGE_ID}, "event"),
        ({"event": "1.5"}, "event"),
        ({"policy": HUGE_ID}, "policy"),
        ({"integration": HUGE_ID}, "integration"),
    ],
)
def test_ids_beyond_the_database_range_in_delivery_log_filters_are_refused(admin_api, admin_client, params, field):
    response = admin_api.get("/api/v1/notifications/", params)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert admin_client.get("/notifications/", params).status_code == 200


@pytest.mark.parametrize("template", [DEEP, '{"a": ' + "[" * 70 + "]" * 70 + "}"])
def test_a_webhook_body_template_nested_too_deeply_is_refused(admin_api, admin_client, template):
    response = admin_api.post("/api/v1/integrations/", webhook(body_template=template), format="json")
    assert response.status_code == 400, response.content
    assert "nested too deeply" in response.json()["errors"]["config"]["body_template"][0]
    form = admin_client.post(
        "/integrations/webhook/add/",
        {"name": "SIEM", "url": "https://siem.example.com/in", "auth": "none", "body_template": template},
    )
    assert form.status_code == 400 and "nested too deeply" in form.content.decode()
    assert not NotificationIntegration.objects.exists()


def test_an_integration_body_nested_too_deeply_is_refused(admin_api):
    text = json.dumps(webhook(url="PLACEHOLDER")).replace('"PLACEHOLDER"', DEEP)
    response = admin_api.generic("POST", "/api/v1/integrations/", text, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize("config", [{"body_template": '{"a": "\udc00"}'}, {"username": "\udc00"}])
def test_text_that_is_not_valid_unicode_in_a_config_is_refused(admin_api, config):
    text = json.dumps(webhook(**config))
    response = admin_api.generic("POST", "/api/v1/integrations/", text, content_type="application/json")
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]["config"]) == set(config)
    assert admin_api.get("/api/v1/integrations/").status_code == 200


def test_a_nul_character_in_a_delivery_log_filter_is_refused(admin_api, admin_client):
    make_integration("webhook")
    assert admin_api.get("/api/v1/integrations/", {"kind": "web\x00hook"}).status_code == 400
    assert admin_client.get("/notifications/", {"status": "\x00"}).status_code == 400
