"""Access management in a browser: an administrator adds a user who must change the password at first sign-in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, UserFactory
from tests.helpers import login

pytestmark = pytest.mark.django_db(transaction=True)


def test_new_user_must_change_the_password_before_anything_else(page, transactional_db):
    UserFactory(username="boss", groups=["IS administrator"])
    login(page, "boss", PASSWORD)
    page.goto("/access/users/")
    page.get_by_role("link", name="Add user").click()
    page.fill("#id_username", "dana")
    page.fill("#id_display_name", "Dana Scully")
    page.fill("#id_password", "Tr0ust-no1!")
    page.get_by_label("Change password at next sign-in").check()
    page.get_by_label("Developer (DEV)").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("User dana created.")
    expect(page.locator("table.users-table")).to_contain_text("Dana Scully")

    page.get_by_role("button", name="Sign out").click()
    login(page, "dana", "Tr0ust-no1!")
    page.goto("/events/")
    expect(page).to_have_url(re.compile(r"/account/password/$"))
    expect(page.get_by_role("alert")).to_contain_text("You must change your password")
    page.fill("#id_old_password", "Tr0ust-no1!")
    page.fill("#id_new_password1", "Sp00ky-truth")
    page.fill("#id_new_password2", "Sp00ky-truth")
    page.get_by_role("button", name="Change password").click()
    page.goto("/events/")
    expect(page.get_by_role("heading", name="Security events")).to_be_visible()
