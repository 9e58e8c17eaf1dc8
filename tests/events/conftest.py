"""Fixtures for the events tests: a scanner's API client."""

import pytest

from tests.factories import UserFactory, token_client


@pytest.fixture
def scanner_user(db):
    return UserFactory(username="ci-scanner", rights=["events.add_securityevent", "events.view_securityevent"])


@pytest.fixture
def scanner_api(scanner_user):
    return token_client(scanner_user)
