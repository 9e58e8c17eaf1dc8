"""Fixtures for the policy tests: outputs of several types, people in the seeded groups, a policy maker."""

from __future__ import annotations

import pytest

from notifications.models import NotificationIntegration
from policies.models import ResponsePolicy, Scope, Trigger
from tests.factories import (
    NotificationIntegrationFactory,
    ResponsePolicyFactory,
    ScopeFactory,
    UserFactory,
    token_client,
)
from tests.factories import global_scope as the_global_scope


@pytest.fixture
def global_scope(db) -> Scope:
    return the_global_scope()


@pytest.fixture
def prod_scope(db) -> Scope:
    return ScopeFactory(name="Production", clusters=["prod-*"], namespaces=["payments"])


@pytest.fixture
def outputs(db) -> dict[str, NotificationIntegration]:
    """One integration per kind used in the tests, by name: mail, chat (telegram), hook (webhook)."""
    return {
        "mail": NotificationIntegrationFactory(name="SOC mailbox", kind="email"),
        "chat": NotificationIntegrationFactory(name="On-call chat", kind="telegram"),
        "hook": NotificationIntegrationFactory(name="SIEM hook", kind="webhook"),
    }


@pytest.fixture
def officer(db):
    return UserFactory(username="officer", groups=["IS officer"])


@pytest.fixture
def auditor(db):
    return UserFactory(username="auditor", groups=["IS auditor"])


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


@pytest.fixture
def officer_api(officer):
    return token_client(officer)


@pytest.fixture
def auditor_api(auditor):
    return token_client(auditor)


@pytest.fixture
def make_policy(global_scope, outputs):
    """Create a policy directly in the database (not through the code under test); ``methods`` name ``outputs``."""

    def make(
        name="Critical CVEs",
        trigger=Trigger.CRITICAL_VULNERABILITIES,
        min_severity=5,
        enabled=True,
        scopes=None,
        methods=("mail",),
        created_by=None,
        **extra,
    ) -> ResponsePolicy:
        return ResponsePolicyFactory(
            name=name,
            trigger=trigger,
            min_severity=min_severity,
            enabled=enabled,
            created_by=created_by,
            scopes=scopes or [global_scope],
            methods=[outputs[key] for key in methods],
            **extra,
        )

    return make
