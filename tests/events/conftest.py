"""Fixtures for the events tests: a scanner's API client and event payloads."""

import pytest

from tests.conftest import grant, token_client


def vulnerability(**overrides) -> dict:
    """A Trivy-style critical vulnerability event as a CI job would post it."""
    event = {
        "type": "vulnerability",
        "severity": "critical",
        "title": "openssl: X.400 address type confusion",
        "source": "trivy",
        "registry": "registry.example.com",
        "repository": "shop/payments",
        "tag": "2.3.1",
        "digest": "sha256:" + "ab" * 32,
        "finding_id": "CVE-2023-0286",
        "package": "libssl3",
        "installed_version": "3.0.7-r0",
        "fixed_version": "3.0.8-r0",
        "cvss": 7.4,
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    event.update(overrides)
    return event


def falco_alert(number: int) -> dict:
    """A Falco json_output alert; ``number`` makes its time, text and pod unique."""
    return {
        "rule": "Terminal shell in container",
        "priority": "Warning",
        "time": f"2026-11-20T10:00:{number % 60:02d}.{number:09d}Z",
        "output": f"shell {number}",
        "output_fields": {"k8s.ns.name": "shop", "k8s.pod.name": f"api-{number}"},
    }


@pytest.fixture
def scanner_user(django_user_model):
    user = django_user_model.objects.create_user("ci-scanner", password="pw-scan-123")
    grant(user, "events.add_securityevent", "events.view_securityevent")
    return user


@pytest.fixture
def scanner_api(scanner_user):
    return token_client(scanner_user)
