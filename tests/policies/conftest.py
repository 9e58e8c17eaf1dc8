"""Fixtures for the policy tests: outputs of several types, people in the seeded groups, a policy maker."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from notifications.models import NotificationIntegration
from policies.models import NotificationMethod, ResponsePolicy, Scope, Trigger
from tests.conftest import token_client

PASSWORD = "pw-policies-123"


@pytest.fixture
def global_scope(db) -> Scope:
    return Scope.objects.get(is_global=True)


@pytest.fixture
def prod_scope(db) -> Scope:
    return Scope.objects.create(name="Production", clusters=["prod-*"], namespaces=["payments"])


@pytest.fixture
def outputs(db) -> dict[str, NotificationIntegration]:
    """One integration per kind used in the tests, by name: mail, chat (telegram), hook (webhook)."""
    return {
        "mail": NotificationIntegration.objects.create(name="SOC mailbox", kind="email"),
        "chat": NotificationIntegration.objects.create(name="On-call chat", kind="telegram"),
        "hook": NotificationIntegration.objects.create(name="SIEM hook", kind="webhook"),
    }


def member_of(django_user_model, username: str, group: str):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def officer(django_user_model):
    return member_of(django_user_model, "officer", "Security officer")


@pytest.fixture
def auditor(django_user_model):
    return member_of(django_user_model, "auditor", "Auditor")


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
    """Create a policy directly in the database (not through the code under test)."""

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
        policy = ResponsePolicy.objects.create(
            name=name, trigger=trigger, min_severity=min_severity, enabled=enabled, created_by=created_by, **extra
        )
        policy.scopes.set(scopes or [global_scope])
        for position, key in enumerate(methods):
            NotificationMethod.objects.create(policy=policy, integration=outputs[key], position=position)
        return policy

    return make
