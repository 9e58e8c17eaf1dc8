"""Each system role, over the main screens and API endpoints: allowed exactly where the rights catalog (the same one
the README's rights table is made from) gives the role the right, refused with 403 everywhere else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from kcs.rights import (
    MANAGE_ACCESS,
    MANAGE_GLOBAL_SCOPE,
    MANAGE_INTEGRATIONS,
    MANAGE_OWN_TOKENS,
    MANAGE_POLICIES,
    MANAGE_RISKS,
    MANAGE_SCOPES,
    MANAGE_SILENCES,
    POST_EVENTS,
    RIGHTS,
    SYSTEM_ROLES,
    VIEW_ACCESS,
    VIEW_EVENTS,
    VIEW_GLOBAL_SCOPE,
    VIEW_INTEGRATIONS,
    VIEW_POLICIES,
    VIEW_RISKS,
    VIEW_SCOPES,
    VIEW_SECURITY_LOG,
    VIEW_SILENCES,
    SystemRole,
    rights_table,
)
from tests.factories import NotificationIntegrationFactory, UserFactory, global_scope, token_client

pytestmark = pytest.mark.django_db
# Rights whose screens other parts of the product own (risk acceptances, silences): their tests check them.
CHECKED_ELSEWHERE = {VIEW_RISKS, MANAGE_RISKS, VIEW_SILENCES, MANAGE_SILENCES}


@dataclass(frozen=True)
class Check:
    """One request; ``needs`` are the rights it takes. Writes send an empty body: 400 when allowed (nothing is
    stored), 403 when not."""

    method: str
    path: str
    needs: tuple[str, ...]
    screen: bool = False


CHECKS = [
    Check("GET", "/policies/response/", (VIEW_POLICIES,), screen=True),
    Check("GET", "/api/v1/response-policies/", (VIEW_POLICIES,)),
    Check("GET", "/policies/response/add/", (MANAGE_POLICIES,), screen=True),
    Check("POST", "/api/v1/response-policies/", (MANAGE_POLICIES,)),
    Check("GET", "/policies/scopes/", (VIEW_SCOPES,), screen=True),
    Check("GET", "/api/v1/scopes/", (VIEW_SCOPES,)),
    Check("GET", "/policies/scopes/add/", (MANAGE_SCOPES,), screen=True),
    Check("POST", "/api/v1/scopes/", (MANAGE_SCOPES,)),
    Check("GET", "/integrations/", (VIEW_INTEGRATIONS,), screen=True),
    Check("GET", "/notifications/", (VIEW_INTEGRATIONS,), screen=True),
    Check("GET", "/api/v1/integrations/", (VIEW_INTEGRATIONS,)),
    Check("GET", "/api/v1/notifications/", (VIEW_INTEGRATIONS,)),
    Check("GET", "/integrations/webhook/add/", (MANAGE_INTEGRATIONS,), screen=True),
    Check("POST", "/api/v1/integrations/", (MANAGE_INTEGRATIONS,)),
    Check("GET", "/events/", (VIEW_EVENTS,), screen=True),
    Check("GET", "/api/v1/events/", (VIEW_EVENTS,)),
    Check("POST", "/api/v1/events/", (POST_EVENTS,)),
    Check("POST", "/api/v1/ingest/trivy/", (POST_EVENTS,)),
    Check("GET", "/security-log/", (VIEW_SECURITY_LOG,), screen=True),
    Check("GET", "/api/v1/audit-log/", (VIEW_SECURITY_LOG,)),
    Check("GET", "/access/users/", (VIEW_ACCESS,), screen=True),
    Check("GET", "/access/roles/", (VIEW_ACCESS,), screen=True),
    Check("GET", "/api/v1/users/", (VIEW_ACCESS,)),
    Check("GET", "/api/v1/roles/", (VIEW_ACCESS,)),
    Check("GET", "/access/users/add/", (MANAGE_ACCESS,), screen=True),
    Check("GET", "/access/roles/add/", (MANAGE_ACCESS,), screen=True),
    Check("POST", "/api/v1/users/", (MANAGE_ACCESS,)),
    Check("POST", "/api/v1/roles/", (MANAGE_ACCESS,)),
    Check("GET", "/tokens/", (MANAGE_OWN_TOKENS,), screen=True),
]


def test_every_right_of_the_catalog_is_checked_here():
    checked = {right for check in CHECKS for right in check.needs} | {VIEW_GLOBAL_SCOPE, MANAGE_GLOBAL_SCOPE}
    assert {right.permission for right in RIGHTS} - CHECKED_ELSEWHERE == checked


@pytest.mark.parametrize("spec", SYSTEM_ROLES, ids=lambda spec: spec.role_id)
def test_system_role_reaches_exactly_what_its_rights_allow(spec: SystemRole):
    person = UserFactory(username=f"member-{spec.role_id.lower()}", groups=[spec.name])
    screens = Client()
    screens.force_login(person)
    api = token_client(person)
    wrong = []
    for check in CHECKS:
        allowed = all(right in spec.rights for right in check.needs)
        client = screens if check.screen else api
        response = client.generic(check.method, check.path, "{}", content_type="application/json")
        expected = (200 if check.method == "GET" else 400) if allowed else 403
        if response.status_code != expected:
            wrong.append(f"{check.method} {check.path}: {response.status_code}, expected {expected}")
    assert not wrong, f"{spec.name} ({spec.role_id}):\n" + "\n".join(wrong)


@pytest.mark.parametrize("spec", SYSTEM_ROLES, ids=lambda spec: spec.role_id)
def test_system_role_sees_and_uses_the_global_scope_only_with_its_rights(spec: SystemRole):
    person = UserFactory(username=f"member-{spec.role_id.lower()}", groups=[spec.name])
    api = token_client(person)
    scopes = api.get("/api/v1/scopes/")
    if VIEW_SCOPES in spec.rights:
        listed = [scope["name"] for scope in scopes.json()["results"]]
        assert ("Global" in listed) is (VIEW_GLOBAL_SCOPE in spec.rights)
    hook = NotificationIntegrationFactory(name=f"hook-{spec.role_id}", kind="webhook")
    body = {
        "name": "Everything",
        "scopes": [global_scope().pk],
        "trigger": "malware",
        "notification_methods": [hook.pk],
    }
    response = api.post("/api/v1/response-policies/", body, format="json")
    if MANAGE_POLICIES not in spec.rights:
        assert response.status_code == 403
    elif MANAGE_GLOBAL_SCOPE in spec.rights:
        assert response.status_code == 201
    else:
        assert response.status_code == 400 and "Global scope" in response.json()["errors"]["scopes"][0]


def test_the_readme_rights_table_is_the_catalog():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    table = rights_table()
    assert table in readme, "README's rights table is out of date; paste this:\n" + table
