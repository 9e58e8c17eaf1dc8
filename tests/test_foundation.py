"""The product answers: health checks, login page, API authentication."""

import json

import pytest
import yaml
from django.db import connections
from django.db.utils import load_backend
from openapi_spec_validator import validate

from tests.helpers import free_port


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_answers_200_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.fixture
def broker_down(monkeypatch):
    """The configured broker is a Redis address where nothing listens (Celery reads CELERY_BROKER_URL from the
    environment before its settings)."""
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")


@pytest.fixture
def database_down(tmp_path):
    """The default database is one that cannot be reached: PostgreSQL on a port where nothing listens, or a SQLite
    file in a folder that does not exist. The test's own connection is put back afterwards."""
    real = connections["default"]
    dead = dict(real.settings_dict)
    if real.vendor == "postgresql":
        dead.update(HOST="127.0.0.1", PORT=str(free_port()))
    else:
        dead["NAME"] = str(tmp_path / "missing" / "kcs.sqlite3")
    connections["default"] = load_backend(dead["ENGINE"]).DatabaseWrapper(dead, "default")
    yield
    connections["default"].close()
    connections["default"] = real


@pytest.mark.django_db
def test_readyz_answers_503_when_the_broker_is_down(client, broker_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    (problem,) = response.json()["problems"]
    assert problem.startswith("broker unreachable: ")


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_down(client, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "problems": ["database unreachable: OperationalError"]}


@pytest.mark.django_db
def test_openapi_schema_is_a_valid_openapi_3_document_of_the_whole_api(admin_client):
    response = admin_client.get("/api/schema/")
    assert response.status_code == 200, response.content[:500]
    spec = yaml.safe_load(response.content)
    validate(spec)  # raises OpenAPIValidationError naming the first part that breaks the OpenAPI 3 specification
    assert spec["openapi"].startswith("3.")
    assert {
        "/api/v1/events/",
        "/api/v1/events/{id}/",
        *(f"/api/v1/ingest/{tool}/" for tool in ("trivy", "grype", "harbor", "falco")),
        "/api/v1/response-policies/",
        "/api/v1/response-policies/{id}/",
        "/api/v1/scopes/",
        "/api/v1/integrations/",
        "/api/v1/integrations/{id}/test/",
        "/api/v1/notifications/",
        "/api/v1/notifications/{id}/retry/",
        "/api/v1/audit-log/",
    } <= set(spec["paths"])
    as_json = admin_client.get("/api/schema/", {"format": "json"})
    assert json.loads(as_json.content) == spec


@pytest.mark.django_db
def test_openapi_schema_documents_token_authentication_on_every_api_operation(admin_api):
    """Found by the API fuzz test: the schema knew only the session cookie, so clients (and the fuzzer) could not
    learn from it how the API authenticates."""
    spec = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert spec["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'An API token, sent as "Token <key>" (Account → API tokens, or manage.py create_api_token).',
    }
    operations = [op for path, ops in spec["paths"].items() for op in ops.values() if path.startswith("/api/v1/")]
    assert operations and all({"tokenAuth": []} in op["security"] for op in operations)


@pytest.mark.django_db
def test_openapi_schema_has_integer_ids_in_paths_and_no_format_suffix_paths(admin_api):
    """Found by the API fuzz test: every path was listed twice (``…{format}``, whose actions answered 500), and
    ``{id}`` was documented as any string."""
    spec = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert not [path for path in spec["paths"] if "{format}" in path]
    ids = [
        parameter["schema"]
        for path, ops in spec["paths"].items()
        if "{id}" in path
        for op in ops.values()
        for parameter in op["parameters"]
        if parameter["in"] == "path"
    ]
    assert ids and all(schema == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1} for schema in ids)


@pytest.mark.django_db
def test_api_docs_page_loads_the_schema(admin_client):
    docs = admin_client.get("/api/docs/")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.content.decode() and 'src="/api/docs/?script="' in docs.content.decode()
    assert '"/api/schema/"' in admin_client.get("/api/docs/?script=").content.decode()  # its init script


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
