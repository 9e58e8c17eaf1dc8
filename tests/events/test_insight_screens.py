"""The Vulnerabilities, Images and image screens as a person uses them (Django's test client, no JavaScript)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from events.models import EventType, Extent, Image
from tests.factories import RiskAcceptanceFactory, UserFactory, finding, global_scope, ingest_at

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def scans(db):
    ingest_at(
        T0,
        [
            finding(repository="web", finding_id="CVE-1", severity="critical", package="openssl", cluster="prod"),
            finding(repository="web", finding_id="CVE-2", severity="high", package="zlib", fixed_version=""),
            finding(repository="web", finding_id="CVE-2", severity="high", package="zlib", fixed_version="", pod="p2"),
            finding(repository="api", finding_id="CVE-1", severity="critical", package="openssl", uid="a"),
        ],
    )
    ingest_at(T0 + timedelta(hours=1), [finding(repository="old", finding_id="CVE-9", severity="low", uid="o")])


@pytest.fixture
def viewer(client):
    client.force_login(UserFactory(username="auditor", groups=["IS auditor"]))
    return client


def test_vulnerabilities_screen_lists_open_findings_with_links_to_their_images(viewer, scans):
    answer = viewer.get("/vulnerabilities/")
    page = answer.content.decode()
    assert answer.status_code == 200
    assert page.index("CVE-1") < page.index("CVE-2") < page.index("CVE-9")
    assert 'href="/images/?finding_id=CVE-1"' in page
    row = page[page.index("<code>CVE-2</code>") :]
    row = row[: row.index("</tr>")]
    assert "zlib" in row and "no fix" in row
    assert 'aria-label="2 affected images of CVE-1"' in page
    assert 'class="active">Vulnerabilities</a>' in page


def test_vulnerabilities_screen_searches_filters_and_sorts(viewer, scans):
    page = viewer.get("/vulnerabilities/?search=zlib").content.decode()
    assert "CVE-2" in page and "CVE-1</code>" not in page
    page = viewer.get("/vulnerabilities/?min_severity=high&ordering=finding_id").content.decode()
    assert page.index("CVE-1") < page.index("CVE-2") and "CVE-9" not in page
    assert 'aria-sort="ascending"' in page
    # The sort links keep the filters.
    assert "min_severity=high&amp;ordering=-finding_id" in page


def _row(page: str, finding_id: str) -> str:
    row = page[page.index(f"<code>{finding_id}</code>") :]
    return row[: row.index("</tr>")]


def test_accepted_findings_show_the_extent_linking_to_their_risk_acceptances(viewer, scans):
    RiskAcceptanceFactory(finding_id="CVE-1", repository="web")
    RiskAcceptanceFactory(finding_id="CVE-2", extent=Extent.ALL, registry="", repository="")
    RiskAcceptanceFactory(finding_id="CVE-2", repository="web")
    RiskAcceptanceFactory(finding_id="CVE-9", cancelled_at=timezone.now())  # cancelled: not accepted
    RiskAcceptanceFactory(finding_id="CVE-9", type=EventType.MALWARE)  # another type: not this finding
    page = viewer.get("/vulnerabilities/").content.decode()
    cve1 = _row(page, "CVE-1")
    assert "Accepted: repository registry.example.com/web" in cve1
    assert 'href="/policies/risk-acceptance/?finding_id=CVE-1&amp;type=vulnerability&amp;state=active"' in cve1
    assert "Accepted: 2 acceptances" in _row(page, "CVE-2")
    assert "Accepted" not in _row(page, "CVE-9")
    listed = viewer.get("/policies/risk-acceptance/?finding_id=CVE-1&type=vulnerability&state=active")
    assert listed.status_code == 200 and "CVE-1" in listed.content.decode()


def test_one_image_acceptance_names_the_image_and_every_image_says_so(viewer, scans):
    RiskAcceptanceFactory(finding_id="CVE-1", extent=Extent.IMAGE, repository="api", tag="1.0")
    RiskAcceptanceFactory(finding_id="CVE-9", extent=Extent.ALL, registry="", repository="", expires_at=None)
    page = viewer.get("/vulnerabilities/").content.decode()
    assert "Accepted: image registry.example.com/api:1.0" in _row(page, "CVE-1")
    assert "Accepted: every image" in _row(page, "CVE-9")


def test_without_the_right_to_view_acceptances_the_badge_is_not_a_link(client, scans):
    client.force_login(UserFactory(rights=["events.view_securityevent"], scopes=[global_scope()]))
    RiskAcceptanceFactory(finding_id="CVE-1", extent=Extent.ALL, registry="", repository="")
    row = _row(client.get("/vulnerabilities/").content.decode(), "CVE-1")
    assert "Accepted: every image" in row and "/policies/risk-acceptance/" not in row


def test_the_accepted_filter_on_the_screen(viewer, scans):
    RiskAcceptanceFactory(finding_id="CVE-2", repository="web")
    page = viewer.get("/vulnerabilities/?accepted=true").content.decode()
    assert "<code>CVE-2</code>" in page and "<code>CVE-1</code>" not in page
    page = viewer.get("/vulnerabilities/?accepted=false").content.decode()
    assert "<code>CVE-2</code>" not in page and "<code>CVE-1</code>" in page and "<code>CVE-9</code>" in page
    answer = viewer.get("/vulnerabilities/?accepted=maybe")
    assert answer.status_code == 400 and "accepted:" in answer.content.decode()


def test_images_screen_shows_rating_counts_and_clusters_and_opens_the_findings(viewer, scans):
    page = viewer.get("/images/").content.decode()
    web = Image.objects.get(repository="web")
    assert f'href="/images/{web.pk}/"' in page
    assert page.index("registry.example.com/web:1.0") < page.index("registry.example.com/old:1.0")
    row = page[page.index(f'href="/images/{web.pk}/"') :]
    row = row[: row.index("</tr>")]
    assert "sev-critical" in row and "prod" in row
    assert re.findall(r"<td>(\d+)</td>", row) == ["1", "1", "0", "0", "0", "0"]

    detail = viewer.get(f"/images/{web.pk}/").content.decode()
    assert "registry.example.com/web:1.0" in detail
    table = detail[detail.index("<table") : detail.index("</table>")]
    assert table.count("<tr>") == 3  # header, CVE-1, CVE-2 once although reported for two pods
    assert "no fix" in table
    high = viewer.get(f"/images/{web.pk}/?severity=high").content.decode()
    assert "CVE-2" in high and "CVE-1" not in high[high.index("<table") :]


def test_images_screen_filters_by_finding_and_rating(viewer, scans):
    page = viewer.get("/images/?finding_id=CVE-1").content.decode()
    assert "web:1.0" in page and "api:1.0" in page and "old:1.0" not in page
    page = viewer.get("/images/?rating=low").content.decode()
    assert "old:1.0" in page and "web:1.0" not in page


@pytest.mark.parametrize("url", ["/vulnerabilities/?severity=worst", "/images/?rating=awful", "/images/?ordering=size"])
def test_a_bad_filter_value_is_a_400_naming_the_field(viewer, scans, url):
    answer = viewer.get(url)
    assert answer.status_code == 400
    assert 'role="alert"' in answer.content.decode()


def test_bad_filter_on_an_image_page_is_a_400(viewer, scans):
    web = Image.objects.get(repository="web")
    assert viewer.get(f"/images/{web.pk}/?min_severity=7").status_code == 400
    assert viewer.get("/images/999999/").status_code == 404


def test_names_from_scanners_are_escaped(viewer):
    ingest_at(T0, [finding(repository="<script>x</script>", finding_id="<b>CVE</b>", uid="x")])
    for url in ("/images/", "/vulnerabilities/", f"/images/{Image.objects.get().pk}/"):
        page = viewer.get(url).content.decode()
        assert "<script>x</script>" not in page and "<b>CVE</b>" not in page
        assert "&lt;script&gt;" in page or "&lt;b&gt;" in page


@pytest.mark.parametrize("url", ["/vulnerabilities/", "/images/"])
def test_screens_need_sign_in_and_the_right_to_view_events(client, scans, url):
    assert client.get(url)["Location"].startswith("/login/")
    client.force_login(UserFactory(username="nobody"))
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(username="ci", groups=["Scanner"]))  # posts events, never reads them
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(username="dev", groups=["Developer"]))
    assert client.get(url).status_code == 200


def test_lists_page_through_many_rows(viewer):
    ingest_at(T0, [finding(repository=f"r{n:02}", finding_id=f"CVE-{n:02}", uid=f"u{n}") for n in range(55)])
    page = viewer.get("/images/").content.decode()
    assert "Page 1 of 2 (55 images)" in page and 'rel="next"' in page
    assert "Page 2 of 2" in viewer.get("/images/?page=2").content.decode()
    assert "(55 findings)" in viewer.get("/vulnerabilities/").content.decode()
