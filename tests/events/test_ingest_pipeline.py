"""From a tool's own output to the message a team receives: native ingest → policies → webhook delivery.

Celery runs eagerly here and the commit hooks are executed, so the whole pipeline (evaluation after commit,
delivery after commit) runs in-process against a real HTTP receiver on loopback.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from policies.models import Trigger
from tests.factories import make_integration, make_policy
from tests.fixtures import fixture_bytes

pytestmark = pytest.mark.django_db

IMAGE = (
    "registry.example.com/shop/payments:2.3.1@sha256:5d2c0b0b7c8a1f7e46a3d1c9e2f4b6a8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0"
)


@pytest.fixture
def receiver(settings):
    """A webhook receiver on loopback; yields (url, list of received JSON bodies)."""
    settings.KCS_ALLOW_PRIVATE_DESTINATIONS = True
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/kcs", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def policies(receiver):
    url, _ = receiver
    hook = make_integration("webhook", "SOC hook", config={"url": url, "auth": "none"}, secrets={})
    make_policy("Critical images", [hook], trigger=Trigger.CRITICAL_VULNERABILITIES)
    make_policy("Runtime threats", [hook], trigger=Trigger.RUNTIME_THREATS, min_severity=4)


def ingest(client, tool: str, name: str, capture):
    with capture(execute=True):
        response = client.generic(
            "POST", f"/api/v1/ingest/{tool}/", fixture_bytes(name), content_type="application/json"
        )
    assert response.status_code == 201, response.content
    return response.json()


def test_trivy_report_with_a_critical_cve_notifies_the_critical_vulnerabilities_policy(
    policies, receiver, scanner_api, django_capture_on_commit_callbacks
):
    ingest(scanner_api, "trivy", "trivy/image_report.json", django_capture_on_commit_callbacks)
    _, received = receiver
    (message,) = received
    assert message["policy"]["name"] == "Critical images"
    assert [e["finding_id"] for e in message["events"]] == ["CVE-2023-5363"]  # the HIGH one is below the bar
    assert message["images"] == [IMAGE]


def test_falco_alert_notifies_the_runtime_threats_policy(
    policies, receiver, scanner_api, django_capture_on_commit_callbacks
):
    ingest(scanner_api, "falco", "falco/shell_in_container.json", django_capture_on_commit_callbacks)
    _, received = receiver
    (message,) = received
    assert message["policy"]["name"] == "Runtime threats"
    assert message["worst_severity"] == "critical"
    (event,) = message["events"]
    assert event["finding_id"] == "Terminal shell in container"


def test_a_falco_alert_below_the_runtime_threshold_sends_nothing(
    policies, receiver, scanner_api, django_capture_on_commit_callbacks
):
    ingest(scanner_api, "falco", "falco/k8saudit_exec.json", django_capture_on_commit_callbacks)  # Notice: low
    _, received = receiver
    assert received == []
