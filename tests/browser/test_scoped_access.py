"""Issue 10's scoped run in a browser: the administrator creates an IS officer limited to the scope *prod*; that
person must change the password first, then sees only prod's events and policies, cannot choose Global, cannot
change a policy they see only because it touches prod (KCS's rule (c)), and the security event log shows each step.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from policies.models import ResponsePolicy
from tests.factories import (
    PASSWORD,
    ScopeFactory,
    UserFactory,
    global_scope,
    make_batch,
    make_integration,
    make_policy,
)
from tests.helpers import login

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_officer_limited_to_prod_sees_and_changes_only_prod(page, transactional_db):
    everywhere = global_scope()
    prod = ScopeFactory(name="prod", clusters=["prod"])
    staging = ScopeFactory(name="staging", clusters=["staging"])
    UserFactory(username="boss", groups=["IS administrator"])
    mail = make_integration("email", "SOC mailbox")
    for name, scopes in (
        ("Prod criticals", [prod]),
        ("Prod and staging", [prod, staging]),
        ("Staging criticals", [staging]),
        ("Everything", [everywhere]),
    ):
        make_policy(name, [mail], scopes=scopes)  # by nobody patricia shares a role with: rule (a) does not apply
    make_batch(1, cluster="prod", title="Finding in prod")
    make_batch(1, cluster="staging", title="Finding in staging")

    # The administrator adds the officer, limited to prod, who must change the password at the first sign-in.
    login(page, "boss", PASSWORD)
    page.goto("/access/users/add/")
    page.fill("#id_username", "patricia")
    page.fill("#id_password", "Fir5t-time!")
    page.get_by_label("Change password at next sign-in").check()
    page.get_by_label("IS officer (ISOFF)").check()
    page.locator("fieldset", has_text="Limit to scopes").get_by_label("prod", exact=True).check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("User patricia created.")
    page.get_by_role("button", name="Sign out").click()

    # First sign-in: nothing but the password form until the password is changed.
    login(page, "patricia", "Fir5t-time!")
    page.goto("/events/")
    expect(page).to_have_url(re.compile(r"/account/password/$"))
    page.fill("#id_old_password", "Fir5t-time!")
    page.fill("#id_new_password1", "Pr0d-only-now")
    page.fill("#id_new_password2", "Pr0d-only-now")
    page.get_by_role("button", name="Change password").click()

    # Only prod's events; the switcher offers prod alone besides "All my scopes".
    page.goto("/events/")
    expect(page.get_by_role("heading", name="Security events")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Finding in prod")
    expect(page.locator("main")).not_to_contain_text("Finding in staging")
    switcher = page.locator("#active-scope option")
    expect(switcher).to_have_text(["All my scopes", "prod"])

    # Policies: those on prod only; the one that also covers staging is read-only; Global cannot be chosen.
    page.goto("/policies/response/")
    table = page.locator("main table")
    expect(table).to_contain_text("Prod criticals")
    expect(table).to_contain_text("Prod and staging")
    expect(table).not_to_contain_text("Staging criticals")
    expect(table).not_to_contain_text("Everything")
    mixed = table.locator("tr", has_text="Prod and staging")
    expect(mixed.locator(".badge.read-only")).to_have_text("Read-only")
    mixed.get_by_role("link", name="Prod and staging").click()
    expect(page.locator("main")).to_contain_text("You can view this policy but not change it")
    expect(page.get_by_role("button", name=re.compile("Save"))).to_have_count(0)

    page.goto("/policies/response/add/")
    scopes = page.locator("fieldset", has_text="Scopes")
    expect(scopes.get_by_label("prod", exact=True)).to_be_visible()
    expect(page.get_by_label(re.compile("^Global"))).to_have_count(0)
    expect(page.get_by_label("staging", exact=True)).to_have_count(0)

    # Outside prod does not exist for patricia.
    staging_policy = ResponsePolicy.objects.get(name="Staging criticals")
    other = page.goto(f"/policies/response/{staging_policy.pk}/")
    assert other is not None and other.status == 404
    page.get_by_role("button", name="Sign out").click()

    # The security event log shows each step.
    login(page, "boss", PASSWORD)
    page.goto("/security-log/?search=patricia")
    log = page.locator("table.audit-table")
    for action in ("Created", "Signed in", "Password changed", "Signed out"):
        expect(log.locator("tr", has=page.locator(f"text={action}")).first).to_be_visible()
    expect(log).to_contain_text("prod")  # the user's scope limit, in the Created entry's changes
