"""The keyboard alone (Tab, Enter, Space, typing; never a click) is enough: signing in, adding a response policy,
switching it off and on, deleting it, and opening the folded navigation menu on a phone. With and without JavaScript.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from policies.models import ResponsePolicy
from tests.factories import PASSWORD, NotificationIntegrationFactory, UserFactory

TIMEOUT = 45_000  # ms: the machine running the suite may be busy
MAX_TABS = 80


def tab_to(page, selector: str) -> None:
    """Press Tab until the focused element matches ``selector`` (fails after MAX_TABS presses)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never received the focus in {MAX_TABS} presses of Tab on {page.url}")


def choose(page, selector: str, label: str) -> None:
    """Tab to a select and type the start of an option's label (the browser's type-ahead selects it)."""
    tab_to(page, selector)
    page.keyboard.type(label)
    expect(page.locator(selector).locator("option:checked")).to_have_text(label)


def open_context(browser, live_server, *, javascript: bool, width: int = 1440):
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=javascript, viewport={"width": width, "height": 900}
    )
    context.set_default_timeout(TIMEOUT)
    context.set_default_navigation_timeout(TIMEOUT)
    return context


def sign_in_by_keyboard(page, username: str) -> None:
    page.goto("/login/", wait_until="load")
    tab_to(page, "#id_username")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)
    page.wait_for_load_state("load")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
@pytest.mark.django_db(transaction=True)
def test_officer_adds_toggles_and_deletes_a_policy_with_the_keyboard_alone(browser, live_server, javascript):
    UserFactory(username="officer", groups=["IS officer"])
    NotificationIntegrationFactory(name="SOC mailbox", kind="email")
    context = open_context(browser, live_server, javascript=javascript)
    page = context.new_page()
    try:
        sign_in_by_keyboard(page, "officer")
        page.goto("/policies/response/", wait_until="load")

        tab_to(page, "#add-policy")
        page.keyboard.press("Enter")
        page.wait_for_url("**/policies/response/add/")
        page.wait_for_load_state("load")
        tab_to(page, "#id_name")
        page.keyboard.type("Keyboard malware")
        choose(page, "#id_trigger", "Malware")
        choose(page, "#id_methods-0-kind", "Email")
        choose(page, "#id_methods-0-integration", "SOC mailbox")
        tab_to(page, ".form-actions .btn-primary")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Policy “Keyboard malware” created.", timeout=TIMEOUT)
        policy = ResponsePolicy.objects.get(name="Keyboard malware")
        assert policy.trigger == "malware" and policy.enabled

        switch = f"#policy-{policy.pk}-switch"
        tab_to(page, switch)
        expect(page.locator(switch)).to_have_attribute("role", "switch")
        expect(page.locator(switch)).to_have_accessible_name("Keyboard malware enabled")
        expect(page.locator(switch)).to_have_attribute("aria-checked", "true")
        page.keyboard.press("Space")
        expect(page.locator(switch)).to_have_attribute("aria-checked", "false", timeout=TIMEOUT)
        expect(page.locator(switch)).to_contain_text("Disabled")
        if javascript:
            # htmx swapped the row in place and gave the focus back to the new switch: Space works again at once.
            expect(page.locator(switch)).to_be_focused()
        else:
            expect(page.get_by_role("status")).to_contain_text("Policy “Keyboard malware” disabled.")
            tab_to(page, switch)
        assert not ResponsePolicy.objects.get(pk=policy.pk).enabled
        page.keyboard.press("Space")
        expect(page.locator(switch)).to_have_attribute("aria-checked", "true", timeout=TIMEOUT)
        assert ResponsePolicy.objects.get(pk=policy.pk).enabled

        tab_to(page, 'a[aria-label="Delete Keyboard malware"]')
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/policies/response/{policy.pk}/delete/")
        tab_to(page, "form.form-actions button[type=submit]")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Policy “Keyboard malware” deleted.", timeout=TIMEOUT)
        assert not ResponsePolicy.objects.filter(pk=policy.pk).exists()
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_phone_navigation_folds_into_a_menu_that_the_keyboard_opens_without_javascript(browser, live_server):
    UserFactory(username="auditor", groups=["IS auditor"])
    context = open_context(browser, live_server, javascript=False, width=390)
    page = context.new_page()
    try:
        sign_in_by_keyboard(page, "auditor")
        page.goto("/events/", wait_until="load")
        links = page.get_by_role("navigation", name="Main")
        expect(links.get_by_role("link", name="Notifications")).to_be_hidden()

        tab_to(page, "#nav-toggle")
        expect(page.get_by_role("checkbox", name="Menu")).to_be_focused()
        page.keyboard.press("Space")
        expect(links.get_by_role("link", name="Notifications")).to_be_visible()
        if shots := os.environ.get("KCS_SCREENSHOTS"):
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{shots}/menu-open-390.png")
        tab_to(page, 'nav a[href="/notifications/"]')
        page.keyboard.press("Enter")
        page.wait_for_url("**/notifications/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
        # A new page starts with the menu folded again; the page itself never scrolls sideways.
        expect(links.get_by_role("link", name="Events")).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        page.set_viewport_size({"width": 1440, "height": 900})
        expect(page.get_by_role("checkbox", name="Menu")).to_be_hidden()
        expect(links.get_by_role("link", name="Events")).to_be_visible()
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_skip_link_moves_the_keyboard_past_the_navigation(browser, live_server):
    UserFactory(username="auditor", groups=["IS auditor"])
    context = open_context(browser, live_server, javascript=True)
    page = context.new_page()
    try:
        sign_in_by_keyboard(page, "auditor")
        page.goto("/events/", wait_until="load")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        # The next stop is inside the page's own content (the first filter field), not the navigation.
        assert page.evaluate("document.activeElement.closest('main') !== null")
    finally:
        context.close()
