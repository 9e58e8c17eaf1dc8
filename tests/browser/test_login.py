"""Signing in through the browser."""

import pytest

from tests.helpers import login


@pytest.mark.django_db(transaction=True)
def test_user_signs_in_and_sees_navigation(page, django_user_model):
    django_user_model.objects.create_superuser("alice", "alice@example.com", "s3cret-pass-9")
    login(page, "alice", "s3cret-pass-9")
    page.goto("/tokens/")
    assert page.locator("nav.sidebar").get_by_text("Response policies").is_visible()
    assert page.locator("h1").inner_text() == "API tokens"


@pytest.mark.django_db(transaction=True)
def test_wrong_password_is_refused(page, django_user_model):
    django_user_model.objects.create_user("bob", "bob@example.com", "right-pass-9")
    login(page, "bob", "wrong-pass")
    assert "/login/" in page.url
    assert page.locator(".errorlist").is_visible()
