"""Fixtures for the events tests: a scanner's API client, people of the seeded groups and their clients."""

import pytest

from tests.factories import UserFactory, global_scope, token_client


@pytest.fixture
def scanner_user(db):
    return UserFactory(
        username="ci-scanner", rights=["events.add_securityevent", "events.view_securityevent"], scopes=[global_scope()]
    )


@pytest.fixture
def scanner_api(scanner_user):
    return token_client(scanner_user)


@pytest.fixture
def officer(db):
    """A person with the seeded IS officer role (views and manages risks)."""
    return UserFactory(username="officer", groups=["IS officer"])


@pytest.fixture
def auditor(db):
    """A person in the seeded Auditor group (views risks, changes nothing)."""
    return UserFactory(username="auditor", groups=["IS auditor"])


@pytest.fixture
def officer_api(officer):
    return token_client(officer)


@pytest.fixture
def auditor_api(auditor):
    return token_client(auditor)
