"""Every screen under the Content-Security-Policy in headless Chromium: nothing refused, no script error, and the
htmx enhancements (toggle in place, search in place), the policy form's script, the token page's confirmation and
the API documentation still work."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse
from playwright.sync_api import expect

from kcs.models import Role
from notifications.channels import CHANNELS
from tests.factories import (
    PASSWORD,
    ApiTokenFactory,
    AuditEntryFactory,
    NotificationFactory,
    NotificationIntegrationFactory,
    ResponsePolicyFactory,
    ScopeFactory,
    UserFactory,
)
from tests.helpers import login

# Every violation reaches the test through an exposed function, wherever the page navigates.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.violatedDirective} refused ${event.blockedURI || "inline"} on ${event.documentURI} ${event.sample}`
  );
});
"""


class Watch:
    """What went wrong on the pages visited so far: CSP violations (events and console reports) and script errors."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.expose_function("reportCspViolation", lambda text: self.problems.append(f"violation: {text}"))
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: script error: {error}"))
        self.page = page

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(f"{self.page.url}: console: {message.text}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        assert response.headers.get("content-security-policy"), f"{path} carries no Content-Security-Policy"
        self.page.wait_for_load_state("networkidle")


@pytest.fixture
def screens_data(transactional_db):
    """Something on every screen: a policy over a scope with one output of each kind, an event and its
    notification, a token and a security event log entry."""
    integrations = [NotificationIntegrationFactory(kind=kind, name=f"{kind} output") for kind in CHANNELS]
    scope = ScopeFactory(name="Production", clusters=["prod-*"])
    policy = ResponsePolicyFactory(name="Prod critical CVEs", scopes=[scope], methods=integrations[:2])
    ResponsePolicyFactory(name="Staging malware", trigger="malware", methods=integrations[:1])
    notification = NotificationFactory(integration=integrations[0], policy=policy, policy_name=policy.name)
    AuditEntryFactory(object_repr=policy.name, object_id=str(policy.pk))
    return {"policy": policy, "scope": scope, "integrations": integrations, "notification": notification}


@pytest.mark.django_db(transaction=True)
def test_every_screen_loads_without_a_content_security_policy_violation(page, screens_data):
    admin_user = UserFactory(username="root", superuser=True)
    ApiTokenFactory(user=admin_user, name="CI scanner")
    watch = Watch(page)
    watch.visit("/login/")
    login(page, "root", PASSWORD)

    policy, scope, notification = screens_data["policy"], screens_data["scope"], screens_data["notification"]
    event = notification.events.first()
    paths = [
        "/policies/response/",
        "/policies/response/add/",
        f"/policies/response/{policy.pk}/",
        f"/policies/response/{policy.pk}/delete/",
        "/policies/scopes/",
        "/policies/scopes/add/",
        f"/policies/scopes/{scope.pk}/",
        "/integrations/",
    ]
    for integration in screens_data["integrations"]:
        kind = integration.kind
        paths += [
            f"/integrations/{kind}/",
            f"/integrations/{kind}/add/",
            f"/integrations/{kind}/{integration.pk}/",
            f"/integrations/{kind}/{integration.pk}/edit/",
        ]
    paths += [
        "/events/",
        f"/events/{event.pk}/",
        "/notifications/",
        f"/notifications/{notification.pk}/",
        "/security-log/",
        "/tokens/",
        "/account/password/",
        "/access/users/",
        "/access/users/add/",
        "/access/roles/",
        "/access/roles/add/",
        f"/access/roles/{Role.objects.get(role_id='ISOFF').pk}/",
        f"/access/users/{admin_user.pk}/",
        f"/access/users/{admin_user.pk}/delete/",
        "/admin/",
    ]
    for model in admin.site._registry:
        paths.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    paths.append(reverse("admin:policies_responsepolicy_change", args=[policy.pk]))
    for path in paths:
        watch.visit(path)
    assert watch.problems == []

    # The policy form's own script runs: its Add button is shown only by JavaScript.
    watch.visit("/policies/response/add/")
    expect(page.get_by_role("button", name="+ Add output")).to_be_visible()
    assert watch.problems == []


@pytest.mark.django_db(transaction=True)
def test_htmx_still_toggles_and_searches_in_place_under_the_policy(page, screens_data):
    UserFactory(username="officer", groups=["IS officer"])
    watch = Watch(page)
    login(page, "officer", PASSWORD)
    watch.visit("/policies/response/")
    page.evaluate("window.stillTheSamePage = true")  # gone if the browser loaded a new page

    row = page.locator("tr.policy-row", has_text="Prod critical CVEs")
    row.get_by_role("switch").click()
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(row).to_have_class("policy-row disabled")

    page.fill("#policy-search", "staging")
    expect(page.locator("tr.policy-row")).to_have_count(1)
    expect(page.locator("tr.policy-row")).to_contain_text("Staging malware")
    assert "q=staging" in page.url
    assert page.evaluate("window.stillTheSamePage") is True
    assert watch.problems == []


@pytest.mark.django_db(transaction=True)
def test_new_token_is_shown_and_revoking_asks_first_under_the_policy(page, transactional_db):
    UserFactory(username="root", superuser=True)
    watch = Watch(page)
    login(page, "root", PASSWORD)
    watch.visit("/tokens/")
    page.fill("#id_name", "trivy in CI")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token-key")).to_contain_text("kcs_")

    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("table.table")).to_contain_text("trivy in CI")  # dismissed: still there
    assert questions == ["Revoke this token? Clients using it will get 401."]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("Token “trivy in CI” revoked.")
    assert watch.problems == []


@pytest.mark.django_db(transaction=True)
def test_api_documentation_renders_from_our_static_files_under_the_policy(page, transactional_db):
    UserFactory(username="root", superuser=True)
    watch = Watch(page)
    login(page, "root", PASSWORD)
    requested_hosts: set[str] = set()
    page.on("request", lambda request: requested_hosts.add(request.url.split("/")[2]))
    watch.visit("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("KCS Response API")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    page.locator(".opblock-summary").first.click()  # an operation opens (Swagger UI's own rendering)
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert requested_hosts == {page.url.split("/")[2]}
    assert watch.problems == []
