"""The Overview's figures: what happened in the last 24 hours, 7 days or 30 days, and where the exposure is now.

Each figure comes with the link to the list behind it, built from the same bounds, so following a link shows
exactly the rows counted (``tests/notifications/test_overview_links.py`` checks every one):

- events by severity per time bucket: hourly counts (:class:`events.models.EventCount`) → the Events list by
  received time and severity;
- notifications per status per bucket (every status but pending and sending, read from ``NotificationStatus``, so a
  status added later gets its series) → the Notifications list by created time and status;
- the images with most critical and high open findings → the image's findings filtered by severity;
- the finding IDs open in most images → the Images list filtered by finding;
- outputs with failed deliveries in the last 24 hours, and the policies whose notifications were most numerous in
  the period → the Notifications list.

Buckets are whole UTC hours: a period ends at the end of the current hour.

Every figure follows the reader's active scopes (:mod:`kcs.visibility`), with the same number of queries: for an
unrestricted reader the events chart reads the hourly counts, for a scoped one it counts the events in their scopes
(the hourly counts know no resource); images and findings count the images in the scopes
(:func:`events.insight_queries.visible_images`); notifications count those of the policies the reader sees
(:func:`notifications.scoping.visible_notifications`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlencode

from django.db.models import Case, Count, F, IntegerField, Max, Sum, Value, When
from django.urls import reverse

from events.insight_queries import visible_images
from events.models import EventCount, Finding, OpenFinding, SecurityEvent, Severity
from kcs.visibility import Visibility
from notifications.models import Notification, NotificationStatus
from notifications.scoping import visible_notifications

TOP = 10
IN_FLIGHT = {NotificationStatus.PENDING, NotificationStatus.SENDING}


@dataclass(frozen=True)
class Period:
    slug: str
    label: str
    length: timedelta
    bucket: timedelta
    label_format: str
    label_every: int


PERIODS = {
    p.slug: p
    for p in (
        Period("24h", "Last 24 hours", timedelta(hours=24), timedelta(hours=1), "%H:00", 3),
        Period("7d", "Last 7 days", timedelta(days=7), timedelta(hours=6), "%a %H:00", 4),
        Period("30d", "Last 30 days", timedelta(days=30), timedelta(days=1), "%b %d", 5),
    )
}
DEFAULT_PERIOD = "24h"


@dataclass
class Bucket:
    start: datetime
    end: datetime
    label: str

    @property
    def bounds(self) -> tuple[str, str]:
        """Start and end as the lists' ISO 8601 filters take them."""
        return iso(self.start), iso(self.end)


def buckets(period: Period, now: datetime) -> list[Bucket]:
    """The period's buckets, oldest first; the last ends at the end of the current UTC hour."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    count = int(period.length / period.bucket)
    first = end - period.length
    return [
        Bucket(
            first + i * period.bucket,
            first + (i + 1) * period.bucket,
            (first + i * period.bucket).strftime(period.label_format),
        )
        for i in range(count)
    ]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=32)
def _path(name: str) -> str:
    return reverse(name)  # the same for every request: a chart makes hundreds of links


def link(name: str, **params) -> str:
    query = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    return f"{_path(name)}?{query}" if query else _path(name)


@dataclass
class SeriesData:
    """One series of a time chart: values and links per bucket, and the period's total with its link."""

    key: str
    name: str
    css_class: str
    values: list[int]
    links: list[str]
    total: int = 0
    total_link: str = ""


@dataclass
class TimeFigure:
    buckets: list[Bucket]
    series: list[SeriesData]
    total: int = 0
    total_link: str = ""
    rows: list[dict] = field(default_factory=list)  # the table: one per bucket with values per series

    def finish(self) -> TimeFigure:
        self.total = sum(s.total for s in self.series)
        self.rows = [
            {
                "bucket": bucket,
                "cells": [(s.values[i], s.links[i]) for s in self.series],
            }
            for i, bucket in enumerate(self.buckets)
        ]
        return self


def bucket_of(field: str, bucket_list: list[Bucket]) -> Case:
    """The index of the bucket ``field`` falls in, computed by the database (NULL outside the buckets), so only a
    few grouped rows come back."""
    return Case(
        *(When(**{f"{field}__lt": bucket.end}, then=Value(index)) for index, bucket in enumerate(bucket_list)),
        default=Value(None),
        output_field=IntegerField(),
    )


def events_by_severity(period: Period, now: datetime, visibility: Visibility) -> TimeFigure:
    bucket_list = buckets(period, now)
    start, end = bucket_list[0].start, bucket_list[-1].end
    values = {s: [0] * len(bucket_list) for s in Severity}
    bounds = [b.bounds for b in bucket_list]
    if visibility.unrestricted:
        counts = (
            EventCount.objects.filter(hour__gte=start, hour__lt=end)
            .annotate(bucket=bucket_of("hour", bucket_list))
            .values_list("bucket", "severity")
            .annotate(n=Sum("count"))
            .order_by()
        )
    else:  # the hourly counts know no cluster or image: count the events in the reader's scopes
        counts = (
            SecurityEvent.objects.filter(visibility.resource_q(), received_at__gte=start, received_at__lt=end)
            .annotate(bucket=bucket_of("received_at", bucket_list))
            .values_list("bucket", "severity")
            .annotate(n=Count("id"))
            .order_by()
        )
    for index, severity, count in counts:
        values[Severity(severity)][index] += count
    series = []
    for severity in reversed(Severity):  # drawn bottom-up: critical at the bottom
        series.append(
            SeriesData(
                severity.slug,
                severity.label,
                f"fill-{severity.slug}",
                values[severity],
                [
                    link("events:list", severity=severity.slug, received_after=after, received_before=before)
                    for after, before in bounds
                ],
                total=sum(values[severity]),
                total_link=link(
                    "events:list", severity=severity.slug, received_after=iso(start), received_before=iso(end)
                ),
            )
        )
    figure = TimeFigure(bucket_list, series)
    figure.total_link = link("events:list", received_after=iso(start), received_before=iso(end))
    return figure.finish()


def reported_statuses() -> list[NotificationStatus]:
    """Every status a notification ends in (all but pending and sending), in their declared order."""
    return [status for status in NotificationStatus if status not in IN_FLIGHT]


def notifications_by_status(period: Period, now: datetime, visibility: Visibility) -> TimeFigure:
    bucket_list = buckets(period, now)
    start, end = bucket_list[0].start, bucket_list[-1].end
    statuses = reported_statuses()
    values = {status.value: [0] * len(bucket_list) for status in statuses}
    bounds = [b.bounds for b in bucket_list]
    counts = (
        visible_notifications(visibility, Notification.objects.all())
        .filter(created_at__gte=start, created_at__lt=end, status__in=[s.value for s in statuses])
        .annotate(bucket=bucket_of("created_at", bucket_list))
        .values_list("bucket", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for index, status, count in counts:
        values[status][index] += count
    series = [
        SeriesData(
            status.value,
            status.label,
            f"fill-status-{status.value} fill-series-{position}",
            values[status.value],
            [
                link(
                    "notifications:notification-list",
                    status=status.value,
                    created_after=after,
                    created_before=before,
                )
                for after, before in bounds
            ],
            total=sum(values[status.value]),
            total_link=link(
                "notifications:notification-list",
                status=status.value,
                created_after=iso(start),
                created_before=iso(end),
            ),
        )
        for position, status in enumerate(statuses)
    ]
    return TimeFigure(bucket_list, series).finish()


def top_images(visibility: Visibility) -> list[dict]:
    """The images in the reader's scopes with most critical, then high, open findings (at least one of either)."""
    images = (
        visible_images(visibility)
        .filter(last_scanned__isnull=False)
        .annotate(worst=F("critical") + F("high"))
        .filter(worst__gt=0)
        .order_by("-critical", "-high", "pk")[:TOP]
    )
    return [
        {
            "image": image,
            "critical": image.critical,
            "high": image.high,
            "critical_link": reverse("events:image-detail", args=[image.pk]) + "?severity=critical",
            "high_link": reverse("events:image-detail", args=[image.pk]) + "?severity=high",
            "link": reverse("events:image-detail", args=[image.pk]) + "?min_severity=high",
        }
        for image in images
    ]


def top_findings(visibility: Visibility) -> list[dict]:
    """The finding IDs open in most images of the reader's scopes."""
    if visibility.unrestricted:  # the findings' summary columns count every image
        rows = (
            Finding.objects.filter(images__gt=0)
            .order_by("-images", "finding_id")
            .values("finding_id", "severity", "images")[:TOP]
        )
    else:
        counted = (
            OpenFinding.objects.filter(finding__isnull=False, image__in=visible_images(visibility).values("pk"))
            .values("finding__finding_id")
            .annotate(severity_seen=Max("severity"), images_seen=Count("image", distinct=True))
            .order_by("-images_seen", "finding__finding_id")[:TOP]
        )
        rows = [
            {"finding_id": row["finding__finding_id"], "severity": row["severity_seen"], "images": row["images_seen"]}
            for row in counted
        ]
    return [
        {
            "finding_id": row["finding_id"],
            "severity": Severity(row["severity"]),
            "images": row["images"],
            "link": link("events:images", finding_id=row["finding_id"]),
        }
        for row in rows
    ]


def failed_outputs(now: datetime, visibility: Visibility) -> list[dict]:
    """Outputs with notifications (that the reader sees) that failed for good among those created in the last 24
    hours."""
    since = now - timedelta(hours=24)
    rows = (
        visible_notifications(visibility, Notification.objects.all())
        .filter(status=NotificationStatus.FAILED, created_at__gte=since, integration__isnull=False)
        .values("integration_id", "integration__name", "integration__kind")
        .annotate(n=Count("id"))
        .order_by("-n", "integration__name")
    )
    return [
        {
            "name": row["integration__name"],
            "kind": row["integration__kind"],
            "failed": row["n"],
            "link": link(
                "notifications:notification-list",
                status=NotificationStatus.FAILED.value,
                integration=row["integration_id"],
                created_after=iso(since),
            ),
        }
        for row in rows
    ]


def busiest_policies(period: Period, now: datetime, visibility: Visibility) -> list[dict]:
    """The policies the reader sees with the most notifications (any status) created in the period."""
    bucket_list = buckets(period, now)
    start, end = bucket_list[0].start, bucket_list[-1].end
    rows = (
        visible_notifications(visibility, Notification.objects.all())
        .filter(created_at__gte=start, created_at__lt=end, policy__isnull=False)
        .values("policy_id", "policy__name")
        .annotate(n=Count("id"))
        .order_by("-n", "policy__name")[:TOP]
    )
    return [
        {
            "name": row["policy__name"],
            "notifications": row["n"],
            "link": link(
                "notifications:notification-list",
                policy=row["policy_id"],
                created_after=iso(start),
                created_before=iso(end),
            ),
        }
        for row in rows
    ]
