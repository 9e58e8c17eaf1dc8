"""Per-token API throttling: ``KCS_API_TOKEN_RATE`` requests per token, then 429 with ``Retry-After``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.factories import UserFactory, token_client, vulnerability

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanner():
    return UserFactory(username="scanner", groups=["Scanner"])


def test_requests_over_the_rate_get_429_with_retry_after(settings, scanner):
    settings.KCS_API_TOKEN_RATE = "3/minute"
    api = token_client(scanner)
    assert [api.get("/api/v1/events/").status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get("/api/v1/events/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()


def test_ingest_counts_against_the_same_token(settings, scanner):
    settings.KCS_API_TOKEN_RATE = "2/hour"
    api = token_client(scanner)
    assert api.post("/api/v1/events/", vulnerability(), format="json").status_code == 201
    assert api.post("/api/v1/ingest/trivy/", b'{"Results": []}', content_type="application/json").status_code in (
        200,
        201,
    )
    refused = api.post("/api/v1/events/", vulnerability(finding_id="CVE-2024-1"), format="json")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 3600


def test_each_token_has_its_own_count(settings, scanner):
    settings.KCS_API_TOKEN_RATE = "1/minute"
    first, second = token_client(scanner, name="first"), token_client(scanner, name="second")
    assert first.get("/api/v1/events/").status_code == 200
    assert first.get("/api/v1/events/").status_code == 429
    assert second.get("/api/v1/events/").status_code == 200


def test_off_means_no_limit(settings, scanner):
    settings.KCS_API_TOKEN_RATE = "off"
    api = token_client(scanner)
    assert {api.get("/api/v1/events/").status_code for _ in range(5)} == {200}


def test_the_screens_session_is_not_throttled(settings, client):
    settings.KCS_API_TOKEN_RATE = "1/minute"
    client.force_login(UserFactory(username="reader", rights=["events.view_securityevent"]))
    assert {client.get("/api/v1/events/").status_code for _ in range(3)} == {200}


@pytest.mark.parametrize(("rate", "starts"), [("lots", False), ("10/fortnight", False), ("120/min", True)])
def test_the_rate_setting_is_checked_at_start(tmp_path, rate, starts):
    result = subprocess.run(
        [sys.executable, "-B", "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "kcs.settings_test", "KCS_API_TOKEN_RATE": rate},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode == 0) is starts, result.stderr[-2000:]
    if not starts:
        assert "KCS_API_TOKEN_RATE" in result.stderr and "<number>/<second|minute|hour|day>" in result.stderr
