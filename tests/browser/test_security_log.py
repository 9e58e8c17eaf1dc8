"""The security event log in the browser: a lockout met at the sign-in page, then read on the log's tabs."""

import pytest

from tests.helpers import login

SHOTS = "/tmp/kcs-screens"


@pytest.mark.django_db(transaction=True)
def test_a_locked_out_sign_in_is_explained_and_found_on_the_administration_tab(page, django_user_model):
    django_user_model.objects.create_superuser("alice", "alice@example.com", "s3cret-pass-9")
    for _ in range(5):
        login(page, "mallory", "guess")
    login(page, "alice", "s3cret-pass-9")
    assert "Sign-in locked: too many failed attempts" in page.locator(".errorlist").inner_text()
    assert "/login/" in page.url

    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.reset_attempts()  # the administrator lifts it (manage.py axes_reset)
    login(page, "alice", "s3cret-pass-9")
    page.goto("/security-log/")
    page.get_by_role("link", name="Administration").click()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=f"{SHOTS}/security-log-administration.png", full_page=True)
    table = page.locator("table.audit-table").inner_text()
    assert "Sign-in failed" in table and "Locked out" in table and "Sign-in refused" in table
    assert page.locator(".tabs a.active").inner_text() == "Administration"
    assert "user name: mallory" in table  # a fact, not a change: no "old → new"
    page.fill("#f-search", "mallory")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Sign-in refused" not in page.locator("table.audit-table").inner_text()  # alice's refused attempt
    assert page.locator(".tabs a.active").inner_text() == "Administration"
