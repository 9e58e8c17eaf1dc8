"""Policy preview (dry run): what a draft would have done over stored events, in the API and on the form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Severity
from kcs.models import AuditEntry
from notifications.models import Notification
from policies.models import ResponsePolicy, Trigger
from tests.factories import POLICIES, ScopeFactory, body, form_data, make_batch, make_policy

pytestmark = pytest.mark.django_db
PREVIEW = POLICIES + "preview/"


@pytest.fixture
def history(db):
    """Stored critical findings 0 and 1 of shop/web: two days ago, yesterday, yesterday ten minutes later (repeats
    within an hour), ten days ago (outside a week); plus a critical finding of another repository an hour ago and a
    medium one of shop/web today."""
    now = timezone.now()
    return {
        "two_days": make_batch(2, received_at=now - timedelta(days=2)),
        "yesterday": make_batch(2, received_at=now - timedelta(days=1)),
        "repeat": make_batch(2, received_at=now - timedelta(days=1) + timedelta(minutes=10)),
        "old": make_batch(2, received_at=now - timedelta(days=10)),
        "other": make_batch(1, received_at=now - timedelta(hours=1), repository="billing/api"),
        "medium": make_batch(1, received_at=now - timedelta(hours=2), severity=Severity.MEDIUM),
    }


@pytest.fixture
def shop(db):
    return ScopeFactory(name="Shop", repositories=["shop/*"])


def draft(shop, outputs, **fields) -> dict:
    return body(shop, outputs, repeat_interval=3600, **fields) | {"scopes": [shop.pk]}


def test_preview_counts_batches_repeats_and_outputs(officer_client, history, shop, outputs):
    stored = (ResponsePolicy.objects.count(), Notification.objects.count(), AuditEntry.objects.count())
    response = officer_client.post(PREVIEW, draft(shop, outputs), content_type="application/json")
    assert response.status_code == 200, response.content
    result = response.json()
    # 6 critical shop/web events in the week (the medium one is below the default Critical threshold, billing/api
    # is out of scope, the old ones out of the window); the ten-minutes-later batch repeats within the hour.
    assert result["events_matched"] == 6
    assert result["suppressed"] == 2
    assert result["outputs"] == 2
    assert result["notifications"] == 4  # two batches with fresh findings × two outputs
    assert result["muted"] == 0 and result["saved"] is None and result["days"] == 7
    assert len(result["per_day"]) == 8  # today and the seven days before
    assert sum(day["events"] for day in result["per_day"]) == 6
    assert sum(day["notifications"] for day in result["per_day"]) == 4
    assert [e["severity"] for e in result["worst"]] == ["critical"] * 6
    assert {e["repository"] for e in result["worst"]} == {"shop/web"}
    # Nothing written.
    assert (ResponsePolicy.objects.count(), Notification.objects.count(), AuditEntry.objects.count()) == stored


def test_preview_window_threshold_and_interval_follow_the_draft(officer_client, history, shop, outputs):
    month = officer_client.post(PREVIEW, draft(shop, outputs) | {"days": 30}, content_type="application/json")
    assert month.json()["events_matched"] == 8 and month.json()["notifications"] == 6
    medium = officer_client.post(PREVIEW, draft(shop, outputs, min_severity="medium"), content_type="application/json")
    assert medium.json()["events_matched"] == 7
    no_repeat_quiet = officer_client.post(
        PREVIEW, draft(shop, outputs) | {"repeat_interval": 0}, content_type="application/json"
    )
    assert no_repeat_quiet.json()["suppressed"] == 0 and no_repeat_quiet.json()["notifications"] == 6
    # The last day holds the repeat batch only; it repeats findings notified just before the window began (the
    # replay knows them), so it sends nothing.
    day = officer_client.post(PREVIEW, draft(shop, outputs) | {"days": 1}, content_type="application/json")
    assert day.json()["events_matched"] == 2 and day.json()["suppressed"] == 2 and day.json()["notifications"] == 0


def test_preview_of_an_edit_shows_the_saved_version_beside_it(officer_client, history, shop, outputs):
    saved = make_policy("Shop critical", [outputs["mail"]], scopes=[shop], repeat_interval=3600)
    response = officer_client.post(
        PREVIEW, draft(shop, outputs, min_severity="medium") | {"policy": saved.pk}, content_type="application/json"
    )
    result = response.json()
    assert result["events_matched"] == 7
    assert result["saved"]["events_matched"] == 6 and result["saved"]["outputs"] == 1
    assert result["saved"]["notifications"] == 2


@pytest.mark.parametrize(
    "patterns, matched",
    [
        (["shop.w*"], 0),  # the dot is literal: shop/web does not match
        (["shop?web"], 6),
        (["SHOP/*"], 6),  # case-insensitive like the engine
        (["shop/[vw]eb"], 6),  # a character class is left to the engine
        (["shop/(web)"], 0),
        (["*"], 7),
    ],
)
def test_scope_patterns_select_what_the_engine_would(officer_client, history, outputs, patterns, matched):
    scope = ScopeFactory(name="Patterns", repositories=patterns)
    response = officer_client.post(PREVIEW, draft(scope, outputs), content_type="application/json")
    assert response.json()["events_matched"] == matched


@pytest.mark.parametrize(
    "change, field",
    [
        ({"days": 3}, "days"),
        ({"scopes": []}, "scopes"),
        ({"trigger": "nope"}, "trigger"),
        ({"notification_methods": []}, "notification_methods"),
        ({"min_severity": "severe"}, "min_severity"),
    ],
)
def test_bad_draft_is_a_400_naming_the_field(officer_client, shop, outputs, change, field):
    response = officer_client.post(PREVIEW, draft(shop, outputs) | change, content_type="application/json")
    assert response.status_code == 400 and field in response.json()["errors"], response.content


def test_preview_needs_the_manage_right(auditor_client, client, shop, outputs):
    assert auditor_client.post(PREVIEW, draft(shop, outputs), content_type="application/json").status_code == 403
    client.logout()
    assert client.post(PREVIEW, draft(shop, outputs), content_type="application/json").status_code in (401, 403)


def test_preview_button_on_the_form_shows_the_figures_and_saves_nothing(officer_client, history, shop, outputs):
    data = form_data(
        shop,
        [("email", outputs["mail"].pk)],
        name="",
        trigger=Trigger.CRITICAL_VULNERABILITIES,
        repeat_interval="3600",
        preview="1",
        preview_days="7",
    )
    response = officer_client.post("/policies/response/add/", data)
    page = response.content.decode()
    assert response.status_code == 200, page
    assert "Preview only: nothing was saved." in page
    assert 'data-figure="events_matched">6<' in page and 'data-figure="notifications">2<' in page
    assert "Enter a name" not in page  # a draft needs no name to be previewed
    assert ResponsePolicy.objects.count() == 0


def test_preview_on_the_edit_form_compares_with_the_saved_policy(officer_client, history, shop, outputs):
    saved = make_policy("Shop critical", [outputs["mail"]], scopes=[shop], repeat_interval=3600)
    data = form_data(
        shop,
        [("email", outputs["mail"].pk), ("webhook", outputs["hook"].pk)],
        name="Shop critical",
        trigger=Trigger.CRITICAL_VULNERABILITIES,
        repeat_interval="3600",
        preview="1",
    )
    data["methods-INITIAL_FORMS"] = "1"  # the edit form starts with the saved row
    page = officer_client.post(f"/policies/response/{saved.pk}/", data).content.decode()
    assert "Saved version" in page and 'data-figure="notifications">4<' in page
    saved.refresh_from_db()
    assert saved.notification_methods.count() == 1  # nothing saved
