"""Fixtures for the notification tests: a fake of the one HTTP helper, and the private-destination switch."""

from __future__ import annotations

import pytest

from tests.helpers import FakeHttp


@pytest.fixture
def fake_http(monkeypatch) -> FakeHttp:
    """Every outbound HTTP request of the channels is recorded and answered by the fake (200 unless scripted)."""
    fake = FakeHttp()
    monkeypatch.setattr("notifications.channels.http.request", fake)
    return fake


@pytest.fixture
def allow_private(settings):
    settings.KCS_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture
def deny_private(settings):
    settings.KCS_ALLOW_PRIVATE_DESTINATIONS = False
