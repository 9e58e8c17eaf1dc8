"""The Silences screens: list with state filter and search, add with its preview count, detail with what the
silence muted, edit as a new version, expire, *Silence similar…* from an event page, and rights."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Severity
from kcs.models import AuditEntry
from notifications.models import NotificationStatus
from policies.models import Silence, SilenceState
from tests.factories import (
    NotificationFactory,
    SecurityEventFactory,
    SilenceFactory,
    UserFactory,
    make_batch,
)

pytestmark = pytest.mark.django_db

LIST = "/policies/silences/"
ADD = "/policies/silences/add/"


def form(**fields) -> dict:
    return {
        "repository": "shop/*",
        "max_severity": "high",
        "duration": "4h",
        "comment": "Rebuild of the base image is scheduled",
    } | fields


def test_list_shows_current_silences_and_filters_by_state(auditor_client):
    now = timezone.now()
    SilenceFactory(comment="openssl noise", matchers={"repository": "shop/*"})
    SilenceFactory(starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1), comment="old exception")
    html = auditor_client.get(LIST).content.decode()
    assert "openssl noise" in html and "shop/*" in html and "old exception" not in html
    assert "Add silence" not in html  # view-only
    html = auditor_client.get(LIST, {"state": "expired"}).content.decode()
    assert "old exception" in html and "openssl noise" not in html


def test_list_search_finds_comments_and_matcher_values_and_htmx_gets_the_table_only(auditor_client):
    SilenceFactory(comment="openssl noise", matchers={"repository": "shop/*"})
    SilenceFactory(comment="falco rule being tuned", matchers={"source": "falco"})
    html = auditor_client.get(LIST, {"q": "FALCO"}).content.decode()
    assert "falco rule being tuned" in html and "openssl noise" not in html
    answer = auditor_client.get(LIST, {"q": "shop"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="silence-results")
    html = answer.content.decode()
    assert "openssl noise" in html and "<table" in html and '<nav class="sidebar"' not in html


def test_officer_adds_a_silence_and_lands_on_its_page(officer_client, make_policy):
    policy = make_policy("Prod criticals")
    answer = officer_client.post(ADD, form(policies=[policy.pk]), follow=True)
    assert answer.status_code == 200
    silence = Silence.objects.get()
    assert silence.matchers == {"repository": "shop/*", "max_severity": "high"} and silence.policies == [policy.pk]
    assert silence.created_by.username == "officer"
    html = answer.content.decode()
    assert f"Silence #{silence.pk} created." in html and "Prod criticals" in html and "Active" in html
    assert AuditEntry.objects.get(object_type="silence").source == "ui"


def test_form_refuses_a_silence_without_comment_and_shows_why(officer_client):
    answer = officer_client.post(ADD, form(comment=""))
    assert answer.status_code == 400
    assert "comment is required" in answer.content.decode() and not Silence.objects.exists()


def test_form_names_a_bad_end(officer_client):
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    answer = officer_client.post(ADD, form(duration="", ends_at=past))
    assert answer.status_code == 400 and "already past" in answer.content.decode()
    assert not Silence.objects.exists()


def test_preview_counts_the_events_of_the_last_7_days_it_would_have_muted(officer_client, make_policy):
    make_policy("Prod criticals", min_severity=Severity.HIGH)
    make_batch(3, repository="shop/web", severity=Severity.HIGH)  # matched by the policy: would be muted
    make_batch(2, repository="shop/api", severity=Severity.MEDIUM)  # below the policy's threshold
    make_batch(1, repository="billing/api", severity=Severity.HIGH)  # not in the matchers
    make_batch(4, repository="shop/web", severity=Severity.HIGH, received_at=timezone.now() - timedelta(days=8))
    answer = officer_client.post(ADD, form(preview="1"))
    html = answer.content.decode()
    assert answer.status_code == 200 and "Preview only: nothing was saved." in html
    assert '<strong data-figure="events">5</strong>' in html and '<strong data-figure="muted">3</strong>' in html
    assert not Silence.objects.exists()


def test_silence_page_shows_what_it_muted_with_links(auditor_client):
    silence = SilenceFactory(comment="shop noise")
    event = SecurityEventFactory(title="openssl: buffer overflow #7")
    muted = NotificationFactory(status=NotificationStatus.MUTED, muted_by=f"silence:{silence.pk}", events=[event])
    NotificationFactory(status=NotificationStatus.MUTED, muted_by=f"silence:{silence.pk + 1}")  # another's
    html = auditor_client.get(f"{LIST}{silence.pk}/").content.decode()
    assert '<strong data-figure="muted-notifications">1</strong>' in html
    assert '<strong data-figure="muted-events">1</strong>' in html
    assert f'href="/notifications/{muted.pk}/"' in html and f'href="/events/{event.pk}/"' in html
    assert "Expire now" not in html and "/edit/" not in html  # view-only
    list_html = auditor_client.get(LIST).content.decode()
    assert "<td>1</td>" in list_html  # the list's Muted column


def test_edit_creates_a_new_version_and_expires_the_old(officer_client):
    old = SilenceFactory(matchers={"repository": "shop/*"}, comment="first")
    page = officer_client.get(f"{LIST}{old.pk}/edit/").content.decode()
    assert 'value="shop/*"' in page and "first" in page and "new version" in page
    answer = officer_client.post(f"{LIST}{old.pk}/edit/", form(repository="shop/web", comment="narrower"), follow=True)
    new = Silence.objects.exclude(pk=old.pk).get()
    old.refresh_from_db()
    assert new.replaces == old and new.matchers["repository"] == "shop/web"
    assert old.state_at(timezone.now()) == SilenceState.EXPIRED
    html = answer.content.decode()
    assert f"it replaces #{old.pk}" in html and 'id="versions"' in html
    # Editing the old version again leads to the newest one.
    again = officer_client.get(f"{LIST}{old.pk}/edit/")
    assert again.status_code == 302 and again.url == f"{LIST}{new.pk}/"


def test_expire_asks_then_ends_the_silence(officer_client):
    silence = SilenceFactory()
    assert "Expire silence" in officer_client.get(f"{LIST}{silence.pk}/expire/").content.decode()
    answer = officer_client.post(f"{LIST}{silence.pk}/expire/", follow=True)
    silence.refresh_from_db()
    assert silence.state_at(timezone.now()) == SilenceState.EXPIRED
    assert "expired: matching events notify again" in answer.content.decode()


def test_silence_similar_on_the_event_page_opens_the_form_prefilled(officer_client):
    event = SecurityEventFactory(cluster="prod-eu", namespace="payments", finding_id="CVE-2026-4242")
    html = officer_client.get(f"/events/{event.pk}/").content.decode()
    assert f'href="{ADD}?event={event.pk}"' in html and "Silence similar…" in html
    page = officer_client.get(ADD, {"event": event.pk}).content.decode()
    for value in ("CVE-2026-4242", "shop/web", "registry.example.com", "prod-eu", "payments"):
        assert f'value="{value}"' in page, value
    assert f'href="/events/{event.pk}/"' in page


def test_silence_similar_is_offered_only_to_people_who_may_manage_silences(auditor_client):
    event = SecurityEventFactory()
    assert "Silence similar" not in auditor_client.get(f"/events/{event.pk}/").content.decode()


def test_decision_trace_links_the_silence_that_muted(officer_client, make_policy):
    policy = make_policy("Prod criticals")
    silence = SilenceFactory()
    event = SecurityEventFactory(batch__evaluated_at=timezone.now())
    NotificationFactory(
        policy=policy, status=NotificationStatus.MUTED, muted_by=f"silence:{silence.pk}", events=[event]
    )
    html = officer_client.get(f"/events/{event.pk}/").content.decode()
    assert f'href="/policies/silences/{silence.pk}/"' in html and "Silenced" in html


def test_rights_view_only_and_none(auditor_client, client):
    silence = SilenceFactory()
    assert auditor_client.get(ADD).status_code == 403
    assert auditor_client.post(ADD, form()).status_code == 403
    assert auditor_client.post(f"{LIST}{silence.pk}/expire/").status_code == 403
    assert auditor_client.post(f"{LIST}{silence.pk}/edit/", form()).status_code == 403
    client.force_login(UserFactory(username="nobody"))
    assert client.get(LIST).status_code == 403 and client.get(f"{LIST}{silence.pk}/").status_code == 403
    client.logout()
    assert client.get(LIST).status_code == 302  # to sign in
    assert Silence.objects.count() == 1 and silence.comment == Silence.objects.get().comment
