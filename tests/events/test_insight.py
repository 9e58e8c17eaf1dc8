"""The read models behind the Overview, Images and Vulnerabilities: kept at ingest, equal to a rebuild."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from events import insight
from events.models import EventCount, Finding, Image, OpenFinding, Severity
from tests.factories import finding, ingest_at

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 30, 10, 15, tzinfo=UTC)


def snapshot() -> dict:
    """Everything the read models say, without row ids."""
    images = {}
    for image in Image.objects.prefetch_related("clusters", "open_findings__finding"):
        images[image.reference] = {
            "rating": image.rating,
            "counts": image.counts(),
            "last_scanned": image.last_scanned,
            "last_batch": image.last_batch_id,
            "clusters": sorted(c.cluster for c in image.clusters.all()),
            "open": sorted(
                (o.key, o.package, o.severity, o.finding.finding_id if o.finding else None, o.workload or "")
                for o in image.open_findings.all()
            ),
            "seen": (image.first_seen, image.last_seen),
        }
    return {
        "hours": sorted(EventCount.objects.values_list("hour", "severity", "count")),
        "findings": sorted(
            Finding.objects.values_list(
                "finding_id", "type", "first_seen", "last_seen", "images", "workloads", "severity", "cvss", "has_fix"
            ),
            key=str,
        ),
        "images": images,
    }


def test_ingest_counts_events_per_hour_and_severity():
    ingest_at(T0, [finding(severity="critical"), finding(finding_id="CVE-2", severity="high")])
    ingest_at(T0 + timedelta(minutes=30), [finding(finding_id="CVE-3", severity="critical")])
    ingest_at(T0 + timedelta(hours=1), [finding(finding_id="CVE-4", severity="low")])

    hour = T0.replace(minute=0)
    assert sorted(EventCount.objects.values_list("hour", "severity", "count")) == [
        (hour, Severity.HIGH, 1),
        (hour, Severity.CRITICAL, 2),
        (hour + timedelta(hours=1), Severity.LOW, 1),
    ]


def test_image_rating_and_counts_come_from_its_latest_scan_only():
    ingest_at(T0, [finding(finding_id="CVE-1", severity="critical"), finding(finding_id="CVE-2", severity="high")])
    image = Image.objects.get()
    assert (image.rating_slug, image.critical, image.high) == ("critical", 1, 1)

    # The next scan no longer reports CVE-1: it was fixed.
    ingest_at(T0 + timedelta(days=1), [finding(finding_id="CVE-2", severity="high", uid="scan-2")])
    image.refresh_from_db()
    assert (image.rating_slug, image.critical, image.high, image.last_scanned) == ("high", 0, 1, T0 + timedelta(days=1))
    assert list(image.open_findings.values_list("key", flat=True)) == ["CVE-2"]


def test_a_scan_with_only_runtime_alerts_leaves_the_open_findings_alone():
    ingest_at(T0, [finding(finding_id="CVE-1", severity="critical")])
    ingest_at(
        T0 + timedelta(hours=2),
        [finding(type="runtime", finding_id="Terminal shell in container", severity="high", cluster="prod-eu-1")],
        source="falco",
    )
    image = Image.objects.get()
    assert (image.rating_slug, image.critical, image.last_scanned) == ("critical", 1, T0)
    assert [c.cluster for c in image.clusters.all()] == ["prod-eu-1"]
    assert image.last_seen == T0 + timedelta(hours=2)


def test_the_same_finding_in_several_workloads_counts_once_for_the_image():
    workloads = [
        finding(
            cluster="prod", namespace="shop", pod=f"web-{n}", uid=f"w{n}", details={"workload": f"Deployment/web{n}"}
        )
        for n in range(3)
    ]
    ingest_at(T0, workloads)
    image = Image.objects.get()
    assert image.critical == 1
    assert OpenFinding.objects.filter(image=image).count() == 3
    assert sorted(OpenFinding.objects.values_list("workload", flat=True)) == [
        "prod/shop/Deployment/web0",
        "prod/shop/Deployment/web1",
        "prod/shop/Deployment/web2",
    ]


def test_a_newer_scan_of_other_finding_types_replaces_the_open_findings():
    ingest_at(T0, [finding(finding_id="CVE-1", severity="medium")])
    ingest_at(
        T0 + timedelta(hours=1),
        [finding(type="misconfiguration", finding_id="DS002", severity="negligible", package="", uid="m")],
    )
    image = Image.objects.get()
    assert (image.rating_slug, image.medium, image.negligible) == ("negligible", 0, 1)


def test_an_older_scan_arriving_late_does_not_replace_a_newer_one():
    ingest_at(T0 + timedelta(hours=1), [finding(finding_id="CVE-NEW")])
    ingest_at(T0, [finding(finding_id="CVE-OLD", uid="late")])
    assert list(OpenFinding.objects.values_list("key", flat=True)) == ["CVE-NEW"]
    assert Finding.objects.get(finding_id="CVE-OLD").first_seen == T0


def test_findings_summarise_their_open_occurrences():
    ingest_at(T0, [finding(repository="a", finding_id="CVE-1", severity="high", cvss=7.0, fixed_version="")])
    ingest_at(T0, [finding(repository="b", finding_id="CVE-1", severity="critical", cvss=9.0, uid="b", cluster="c")])
    summary = Finding.objects.values_list("images", "severity", "cvss", "has_fix").get()
    assert summary == (2, Severity.CRITICAL, 9.0, True)

    ingest_at(T0 + timedelta(hours=1), [finding(repository="b", finding_id="CVE-2", uid="b2")])  # fixed in b
    assert Finding.objects.values_list("images", "severity", "cvss", "has_fix").get(finding_id="CVE-1") == (
        1,
        Severity.HIGH,
        7.0,
        False,
    )


def test_findings_remember_first_and_last_report():
    ingest_at(T0, [finding(finding_id="CVE-1")])
    ingest_at(T0 + timedelta(days=2), [finding(finding_id="CVE-1", tag="2.0", uid="again")])
    assert Finding.objects.values_list("first_seen", "last_seen").get() == (T0, T0 + timedelta(days=2))


def test_rebuild_gives_what_ingest_maintained(capsys):
    ingest_at(T0, [finding(finding_id="CVE-1", severity="critical"), finding(finding_id="CVE-2", cluster="c1")])
    ingest_at(T0 + timedelta(hours=3), [finding(finding_id="CVE-2", tag="2.0", cluster="c2", uid="b")])
    ingest_at(T0 + timedelta(hours=4), [finding(finding_id="CVE-3", severity="low", uid="c")])
    ingest_at(
        T0 + timedelta(hours=5),
        [finding(type="runtime", finding_id="Shell", cluster="c3", uid="r")],
        source="falco",
    )
    maintained = snapshot()

    call_command("rebuild_insight")

    assert snapshot() == maintained
    assert "images" in capsys.readouterr().out


def test_retention_drops_what_only_purged_events_concerned():
    ingest_at(T0 - timedelta(days=100), [finding(finding_id="CVE-OLD", tag="old")])
    ingest_at(T0, [finding(finding_id="CVE-NEW", tag="new", uid="n")])

    deleted = insight.purge(T0 - timedelta(days=90))

    assert deleted == {"hourly counts": 1, "images": 1, "finding ids": 1}
    assert [i.tag for i in Image.objects.all()] == ["new"]
    assert list(Finding.objects.values_list("finding_id", flat=True)) == ["CVE-NEW"]
    assert EventCount.objects.count() == 1
