"""Fixtures for the events tests: a scanner's API client."""

import pytest

from tests.factories import UserFactory, token_client


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
def scanner_user(db):
    return UserFactory(username="ci-scanner", rights=["events.add_securityevent", "events.view_securityevent"])


@pytest.fixture
def scanner_api(scanner_user):
    return token_client(scanner_user)
