"""The product answers: health checks, login page, API authentication."""

import pytest


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200, schema.content[:500]
    paths = schema.json()["paths"]
    assert "/api/v1/events/" in paths and "/api/v1/events/{id}/" in paths
    docs = admin_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_bad_setting_stops_start_up_naming_the_variable(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {**os.environ, "KCS_VAR_DIR": str(tmp_path), "WEB_CONCURRENCY": "many"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "WEB_CONCURRENCY must be a whole number" in result.stderr


def test_api_root_needs_authentication(client):
    assert client.get("/api/v1/events/").status_code == 401


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(admin_client):
    response = admin_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_unknown_page_is_a_console_404(admin_client):
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content
