"""Fixtures for the events tests: a scanner's API client, people of the seeded groups and their clients."""

import pytest

from tests.factories import UserFactory, token_client


@pytest.fixture
def scanner_user(db):
    return UserFactory(username="ci-scanner", rights=["events.add_securityevent", "events.view_securityevent"])


@pytest.fixture
def scanner_api(scanner_user):
    return token_client(scanner_user)


@pytest.fixture
def officer(db):
    """A person in the seeded Security officer group (views and manages risks)."""
    return UserFactory(username="officer", groups=["Security officer"])


@pytest.fixture
def auditor(db):
    """A person in the seeded Auditor group (views risks, changes nothing)."""
    return UserFactory(username="auditor", groups=["Auditor"])


@pytest.fixture
def officer_api(officer):
    return token_client(officer)


@pytest.fixture
def auditor_api(auditor):
    return token_client(auditor)
