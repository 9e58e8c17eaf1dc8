"""The read models behind the Overview, Images and Vulnerabilities screens, kept up to date at ingest.

Definitions (the README's *Overview, Images, Vulnerabilities* section says the same to users):

- **Hourly counts** (:class:`EventCount`): events per UTC hour of ``received_at`` and severity.
- **Image**: any event with a repository names one, ``registry/repository:tag@digest``. Its **clusters** are the
  clusters of every event naming it (scans, runtime alerts alike).
- **Scan**: the events of one batch (one report, one request) about one image, of a scanning type
  (:data:`SCAN_TYPES`: vulnerabilities, malware, sensitive data, misconfigurations, non-compliance; runtime alerts
  and risk-acceptance expiries are not scans). An image's **latest scan** is the newest such batch.
- **Open findings** of an image: the events of its latest scan (:class:`OpenFinding`). A newer scan replaces them
  all: what it no longer reports is fixed. A finding of an image is its type, finding ID (or title when it has
  none) and package; the image's **counts** count each once, under its highest severity; its **rating** is the
  highest severity among them, or *Ok* when there are none.
- **Finding** (the Vulnerabilities list): a finding ID with its first and last report by any scan; its affected
  images are the images where it is open, its workloads the distinct ``cluster/namespace/workload`` of those open
  events that name one.

Everything is written in the ingest transaction, so a screen never shows a half-stored report. The image rows are
locked (upsert) before their open findings are replaced, so two reports about one image in flight at once leave the
newer one's findings. Retention drops the rows that only concern purged events (:func:`purge`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncHour

from events.models import (
    SCAN_TYPES,
    EventCount,
    Finding,
    Image,
    ImageCluster,
    OpenFinding,
    SecurityEvent,
    Severity,
)
from kcs.retention import PURGE_CHUNK, delete_rows

IMAGE_FIELDS = ("registry", "repository", "tag", "digest")
SEVERITY_COLUMNS = {int(s): s.label.lower() for s in Severity}
_SCAN_TYPE_VALUES = frozenset(str(t) for t in SCAN_TYPES)


def hour_of(moment: datetime) -> datetime:
    """The UTC hour ``moment`` falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def image_key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    return tuple(row.get(name) or "" for name in IMAGE_FIELDS)  # type: ignore[return-value]


def finding_key(row: dict[str, Any]) -> str:
    """What names a finding: its ID, or its title when the source gave none."""
    return (row.get("finding_id") or row.get("title") or "")[:500]


def workload_of(row: dict[str, Any]) -> str | None:
    """``cluster/namespace/workload`` (the workload from the details, else the pod), None when no part is known."""
    details = row.get("details") or {}
    workload = details.get("workload") if isinstance(details, dict) else None
    parts = [row.get("cluster") or "", row.get("namespace") or "", str(workload or row.get("pod") or "")]
    return "/".join(parts)[:800] if any(parts) else None


def is_scan(row: dict[str, Any]) -> bool:
    return str(row.get("type")) in _SCAN_TYPE_VALUES


def record(rows: Sequence[dict[str, Any]], ids: Sequence[int], batch_id: UUID, received_at: datetime) -> None:
    """Update the read models for newly stored events (``rows``: model attribute → value, ``ids`` in the same order).
    Call inside the ingest transaction."""
    if not rows:
        return
    _count_hours(Counter((hour_of(row["received_at"]), int(row["severity"])) for row in rows))
    by_image: dict[tuple, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for event_id, row in zip(ids, rows):
        if row.get("repository"):
            by_image[image_key(row)].append((event_id, row))
    scanned = [(event_id, row) for event_id, row in zip(ids, rows) if is_scan(row) and row.get("finding_id")]
    findings = _record_findings(scanned, received_at)
    if by_image:
        refresh_findings(_record_images(by_image, findings, batch_id, received_at))


def _count_hours(counts: Counter) -> None:
    table = connection.ops.quote_name(EventCount._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    keys = sorted(counts)  # one order for every writer: no deadlock between concurrent ingests
    values = ", ".join(["(%s, %s, %s)"] * len(keys))
    params: list[Any] = []
    for hour, severity in keys:
        params += [adapt(hour), severity, counts[hour, severity]]
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {table} ("hour", "severity", "count") VALUES {values} '
            f'ON CONFLICT ("hour", "severity") DO UPDATE SET "count" = {table}."count" + excluded."count"',
            params,
        )


def _record_findings(scanned: list[tuple[int, dict[str, Any]]], received_at: datetime) -> dict[str, int]:
    """Upsert the finding IDs of scan events; returns finding ID → row id."""
    types: dict[str, str] = {}
    for _, row in scanned:
        types.setdefault(row["finding_id"][:255], str(row["type"]))
    if not types:
        return {}
    rows = [
        Finding(finding_id=finding_id, type=types[finding_id], first_seen=received_at, last_seen=received_at)
        for finding_id in sorted(types)
    ]
    Finding.objects.bulk_create(rows, update_conflicts=True, unique_fields=["finding_id"], update_fields=["last_seen"])
    return {row.finding_id: row.pk for row in rows}


def _record_images(
    by_image: dict[tuple, list[tuple[int, dict[str, Any]]]],
    findings: dict[str, int],
    batch_id: UUID,
    received_at: datetime,
) -> set[int]:
    """Upsert the images, their clusters and open findings; returns the finding rows whose open set changed."""
    keys = sorted(by_image)
    images = [Image(**dict(zip(IMAGE_FIELDS, key)), first_seen=received_at, last_seen=received_at) for key in keys]
    # The upsert locks each image row until commit: a concurrent report about the same image waits here.
    Image.objects.bulk_create(
        images,
        update_conflicts=True,
        unique_fields=list(IMAGE_FIELDS),
        update_fields=["last_seen"],
    )
    clusters = [
        ImageCluster(image_id=image.pk, cluster=cluster)
        for image, key in zip(images, keys)
        for cluster in sorted({row["cluster"] for _, row in by_image[key] if row.get("cluster")})
    ]
    if clusters:
        ImageCluster.objects.bulk_create(clusters, ignore_conflicts=True)
    changed: set[int] = set()
    for image, key in zip(images, keys):
        scan = [(event_id, row) for event_id, row in by_image[key] if is_scan(row)]
        if scan:
            changed |= _replace_open_findings(image.pk, scan, findings, batch_id, received_at)
    return changed


def _replace_open_findings(
    image_id: int,
    scan: list[tuple[int, dict[str, Any]]],
    findings: dict[str, int],
    batch_id: UUID,
    received_at: datetime,
) -> set[int]:
    """Make ``scan`` the image's open findings unless a newer scan is stored; returns the finding rows concerned."""
    worst: dict[tuple, int] = {}
    for _, row in scan:
        key = (str(row["type"]), finding_key(row), row.get("package") or "")
        worst[key] = max(worst.get(key, 0), int(row["severity"]))
    counts = Counter(worst.values())
    statements = _statements()
    batch_value = Image._meta.get_field("last_batch_id").get_db_prep_value(batch_id, connection)
    scanned_at = connection.ops.adapt_datetimefield_value(received_at)
    with connection.cursor() as cursor:
        cursor.execute(
            statements.scan_image,
            [
                scanned_at,
                batch_value,
                max(worst.values()),
                *(counts.get(value, 0) for value in SEVERITY_COLUMNS),
                image_id,
                scanned_at,
            ],
        )
        if not cursor.rowcount:
            return set()  # a newer scan of this image was stored meanwhile: its findings stay
        cursor.execute(statements.drop_open_findings, [image_id])
        changed = {finding for (finding,) in cursor.fetchall() if finding is not None}
    rows = OpenFinding.objects.bulk_create([_open_finding(image_id, event_id, row, findings) for event_id, row in scan])
    return changed | {row.finding_id for row in rows if row.finding_id is not None}


class _Statements:
    """The SQL of the per-ingest writes, composed once per process from the models' table and column names.

    Raw SQL because these run in every ingest transaction, the single-event POST included: building the same
    statements through the ORM (subquery expressions, conditional updates) cost more CPU than the rest of the request,
    database round trips included.
    """

    def __init__(self):
        quote = connection.ops.quote_name
        image, open_finding, finding = (quote(m._meta.db_table) for m in (Image, OpenFinding, Finding))
        severity_columns = ", ".join(f"{quote(column)} = %s" for column in SEVERITY_COLUMNS.values())
        # Only when no newer scan was stored (the upsert before it locked the image row).
        self.scan_image = (
            f"UPDATE {image} SET {quote('last_scanned')} = %s, {quote('last_batch_id')} = %s, "
            f"{quote('rating')} = %s, {severity_columns} "
            f"WHERE {quote('id')} = %s AND ({quote('last_scanned')} IS NULL OR {quote('last_scanned')} <= %s)"
        )
        # The previous open findings go; the finding rows they named need their summary refreshed.
        self.drop_open_findings = (
            f"DELETE FROM {open_finding} WHERE {quote('image_id')} = %s RETURNING {quote('finding_id')}"
        )

        occurrence_of = f"o.{quote('finding_id')} = {finding}.{quote('id')}"
        images, workloads, severity, cvss, fixed = (
            f"o.{quote(column)}" for column in ("image_id", "workload", "severity", "cvss", "fixed_version")
        )

        def over_open(aggregate: str) -> str:
            return f"(SELECT {aggregate} FROM {open_finding} o WHERE {occurrence_of})"

        # Each summary column over the finding's open occurrences (none: 0 images and workloads, no severity,
        # CVSS or fix).
        self.refresh_findings = (
            f"UPDATE {finding} SET "
            f"{quote('images')} = {over_open(f'COUNT(DISTINCT {images})')}, "
            f"{quote('workloads')} = {over_open(f'COUNT(DISTINCT {workloads})')}, "
            f"{quote('severity')} = {over_open(f'MAX({severity})')}, "
            f"{quote('cvss')} = {over_open(f'MAX({cvss})')}, "
            f"{quote('has_fix')} = EXISTS (SELECT 1 FROM {open_finding} o WHERE {occurrence_of} AND {fixed} <> '')"
        )
        self.finding_id_in = f" WHERE {quote('id')} IN "


_composed: dict[str, _Statements] = {}


def _statements() -> _Statements:
    """The statements for the current connection's database (composed on first use)."""
    statements = _composed.get(connection.vendor)
    if statements is None:
        statements = _composed[connection.vendor] = _Statements()
    return statements


def refresh_findings(ids: set[int] | None) -> None:
    """Recompute the summary columns of these finding rows (None: all) from their open occurrences."""
    statements = _statements()
    with connection.cursor() as cursor:
        if ids is None:
            cursor.execute(statements.refresh_findings)
            return
        ordered = sorted(ids)  # one lock order for every writer
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start : start + 1000]
            cursor.execute(
                statements.refresh_findings + statements.finding_id_in + f"({', '.join(['%s'] * len(chunk))})", chunk
            )


def _open_finding(image_id: int, event_id: int, row: dict[str, Any], findings: dict[str, int]) -> OpenFinding:
    return OpenFinding(
        image_id=image_id,
        finding_id=findings.get((row.get("finding_id") or "")[:255]),
        event_id=event_id,
        type=str(row["type"]),
        key=finding_key(row),
        severity=int(row["severity"]),
        cvss=row.get("cvss"),
        package=row.get("package") or "",
        installed_version=row.get("installed_version") or "",
        fixed_version=row.get("fixed_version") or "",
        workload=workload_of(row),
    )


# --- rebuilding from the events --------------------------------------------------------------------------------------

EVENT_FIELDS = (
    "id",
    "batch_id",
    "received_at",
    "type",
    "severity",
    "title",
    "finding_id",
    "package",
    "installed_version",
    "fixed_version",
    "cvss",
    "cluster",
    "namespace",
    "pod",
    "details",
    *IMAGE_FIELDS,
)


def rebuild() -> dict[str, int]:
    """Recompute every read model from the stored events (after a restore, a bulk load, or to check them); returns
    how many rows of each were written. One transaction: the screens show the old numbers until it commits."""
    events = SecurityEvent.objects.all()
    scans = events.filter(type__in=SCAN_TYPES).exclude(finding_id="")
    with transaction.atomic():
        for model in (OpenFinding, ImageCluster, Image, Finding, EventCount):
            model.objects.all().delete()
        _rebuild_hours(events)
        Finding.objects.bulk_create(
            (
                Finding(
                    finding_id=row["finding_id"][:255], type=row["type"], first_seen=row["first"], last_seen=row["last"]
                )
                for row in scans.values("finding_id")
                .annotate(type=Min("type"), first=Min("received_at"), last=Max("received_at"))
                .order_by()
            ),
            batch_size=2000,
        )
        images = _rebuild_images(events)
        refresh_findings(None)
    return {
        "hourly counts": EventCount.objects.count(),
        "findings": Finding.objects.count(),
        "images": images,
        "open findings": OpenFinding.objects.count(),
    }


def _rebuild_hours(events) -> None:
    hours = (
        events.annotate(hour=TruncHour("received_at", tzinfo=UTC))
        .values_list("hour", "severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    EventCount.objects.bulk_create(
        (EventCount(hour=hour, severity=severity, count=n) for hour, severity, n in hours), batch_size=2000
    )


def _rebuild_images(events) -> int:
    with_image = events.exclude(repository="").order_by()
    seen = with_image.values(*IMAGE_FIELDS).annotate(first=Min("received_at"), last=Max("received_at"))
    images = {
        tuple(row[name] for name in IMAGE_FIELDS): Image(
            **{name: row[name] for name in IMAGE_FIELDS}, first_seen=row["first"], last_seen=row["last"]
        )
        for row in seen
    }
    Image.objects.bulk_create(images.values(), batch_size=2000)
    ImageCluster.objects.bulk_create(
        (
            ImageCluster(image=images[tuple(row[name] for name in IMAGE_FIELDS)], cluster=row["cluster"])
            for row in with_image.exclude(cluster="").values(*IMAGE_FIELDS, "cluster").distinct()
        ),
        batch_size=2000,
    )
    # The latest scan of each image: the batch of its newest scan event (ids grow with arrival).
    newest = with_image.filter(type__in=SCAN_TYPES).values(*IMAGE_FIELDS).annotate(newest=Max("id"))
    newest_ids = [row["newest"] for row in newest]
    latest: dict[tuple, tuple[UUID, datetime]] = {}
    for start in range(0, len(newest_ids), 5000):
        for row in SecurityEvent.objects.filter(id__in=newest_ids[start : start + 5000]).values(
            "batch_id", "received_at", *IMAGE_FIELDS
        ):
            latest[tuple(row[name] for name in IMAGE_FIELDS)] = (row["batch_id"], row["received_at"])
    findings = dict(Finding.objects.values_list("finding_id", "id"))
    batches = sorted({batch_id for batch_id, _ in latest.values()})
    by_image: dict[tuple, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for start in range(0, len(batches), 500):
        scan_events = with_image.filter(batch_id__in=batches[start : start + 500], type__in=SCAN_TYPES)
        for row in scan_events.values(*EVENT_FIELDS).iterator(chunk_size=20000):
            key = tuple(row[name] for name in IMAGE_FIELDS)
            if latest.get(key, (None,))[0] == row["batch_id"]:
                by_image[key].append((row["id"], row))
    for key, scan in by_image.items():
        _replace_open_findings(images[key].pk, scan, findings, latest[key][0], latest[key][1])
    return len(images)


# --- retention -------------------------------------------------------------------------------------------------------


def purge(cutoff: datetime, *, dry_run: bool = False) -> dict[str, int]:
    """Drop what only concerns events received before ``cutoff``: hours wholly before it, images and finding IDs
    last seen before it (an image's open findings and clusters go with it). Returns the counts that are not zero."""
    querysets = {
        "hourly counts": EventCount.objects.filter(hour__lte=cutoff - timedelta(hours=1)),
        "images": Image.objects.filter(last_seen__lt=cutoff),
        "finding ids": Finding.objects.filter(last_seen__lt=cutoff, open_findings__isnull=True),
    }
    if dry_run:
        counts = {name: queryset.count() for name, queryset in querysets.items()}
    else:
        with transaction.atomic():
            counts = {name: _delete(queryset) for name, queryset in querysets.items()}
    return {name: count for name, count in counts.items() if count}


def _delete(queryset) -> int:
    model = queryset.model
    ids = list(queryset.values_list("pk", flat=True))
    total = 0
    for start in range(0, len(ids), PURGE_CHUNK):
        chunk = ids[start : start + PURGE_CHUNK]
        if model is Image:
            delete_rows(OpenFinding, chunk, "image")
            delete_rows(ImageCluster, chunk, "image")
        total += delete_rows(model, chunk)
    return total
