"""Native ingestion end to end with a real worker: a tool's own output → policies → the webhook a team receives."""

from __future__ import annotations

import pytest

from policies.models import Trigger
from tests.factories import UserFactory, hook, make_policy, token_client
from tests.fixtures import fixture_bytes
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scanner(transactional_db):
    return token_client(UserFactory(username="trivy-in-ci", groups=["Scanner"]))


def post_native(client, tool: str, fixture: str) -> dict:
    response = client.generic(
        "POST", f"/api/v1/ingest/{tool}/", fixture_bytes(fixture), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_trivy_report_and_falco_alert_reach_their_policies_outputs(scanner, pipeline):
    make_policy("Critical images", [hook(pipeline, "vulns")], trigger=Trigger.CRITICAL_VULNERABILITIES)
    make_policy("Runtime threats", [hook(pipeline, "runtime")], trigger=Trigger.RUNTIME_THREATS, min_severity=4)

    post_native(scanner, "trivy", "trivy/image_report.json")
    post_native(scanner, "falco", "falco/shell_in_container.json")

    http = pipeline["http"]
    (vulns,) = wait_for(lambda: http.received("/hook/vulns"), what="the vulnerability message")
    (runtime,) = wait_for(lambda: http.received("/hook/runtime"), what="the runtime message")
    assert vulns["json"]["policy"]["name"] == "Critical images"
    assert [e["finding_id"] for e in vulns["json"]["events"]] == ["CVE-2023-5363"]  # only the critical finding
    assert runtime["json"]["policy"]["name"] == "Runtime threats"
    assert [e["finding_id"] for e in runtime["json"]["events"]] == ["Terminal shell in container"]

    # The same report again: nothing new is stored, so nothing is sent twice.
    again = scanner.generic(
        "POST", "/api/v1/ingest/trivy/", fixture_bytes("trivy/image_report.json"), content_type="application/json"
    )
    assert again.status_code == 200 and again.json()["created"] == 0
    assert len(http.received("/hook/vulns")) == 1
