"""Security events: one finding about one resource, immutable once stored."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Upper
from django.utils import timezone


class Severity(models.IntegerChoices):
    """Ordered so that ``>=`` means "at least as severe"."""

    UNKNOWN = 0, "Unknown"
    NEGLIGIBLE = 1, "Negligible"
    LOW = 2, "Low"
    MEDIUM = 3, "Medium"
    HIGH = 4, "High"
    CRITICAL = 5, "Critical"

    @property
    def slug(self) -> str:
        return self.label.lower()

    @classmethod
    def from_slug(cls, slug: str) -> Severity:
        """The severity for a lower-case slug; raises ``KeyError`` for an unknown one."""
        return _SEVERITY_BY_SLUG[slug]

    @classmethod
    def slugs(cls) -> list[str]:
        return [s.slug for s in cls]


_SEVERITY_BY_SLUG = {s.label.lower(): s for s in Severity}
SEVERITY_SLUG_BY_VALUE = {s.value: s.label.lower() for s in Severity}


class EventType(models.TextChoices):
    VULNERABILITY = "vulnerability", "Vulnerability"
    MALWARE = "malware", "Malware"
    SENSITIVE_DATA = "sensitive_data", "Sensitive data"
    MISCONFIGURATION = "misconfiguration", "Misconfiguration"
    NON_COMPLIANT = "non_compliant", "Non-compliant"
    RISK_ACCEPTANCE_EXPIRED = "risk_acceptance_expired", "Risk acceptance expired"
    RUNTIME = "runtime", "Runtime threat"


class EventBatch(models.Model):
    """Events ingested together (one request, one scan report): the unit that policies are evaluated on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=32)
    received_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    received = models.PositiveIntegerField(default=0, help_text="Findings in the request")
    created = models.PositiveIntegerField(default=0, help_text="Events stored (the rest were already known)")
    # When policies evaluated the batch's events (all at once, in one transaction). Kept on the batch, not on each
    # event: marking a 1,000-event batch is one row, and event rows are never rewritten (an indexed column updated
    # on an event would rewrite every one of its indexes).
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "event batches"
        indexes = [
            # Retention walks batches oldest first (events/retention.py); /metrics reads the newest.
            models.Index(fields=["received_at"], name="batch_received_at"),
            # The evaluation sweeper and /metrics look for the batches still waiting.
            models.Index(
                fields=["received_at"], name="batch_not_evaluated", condition=models.Q(evaluated_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} batch {self.id}"


class SecurityEvent(models.Model):
    """One finding about one resource. Never changed after ingestion (its batch records the evaluation)."""

    type = models.CharField(max_length=32, choices=EventType.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=32)
    # The sender's idempotency key, unique per submitting account (see Meta.constraints), so one account cannot
    # post another's uid first and have the real event dropped as a duplicate.
    uid = models.CharField(max_length=255, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The account that submitted the event (none for manage.py ingest without --user)",
    )

    registry = models.CharField(max_length=255, blank=True)
    repository = models.CharField(max_length=255, blank=True)
    tag = models.CharField(max_length=128, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    cluster = models.CharField(max_length=255, blank=True)
    namespace = models.CharField(max_length=255, blank=True)
    pod = models.CharField(max_length=255, blank=True)
    container = models.CharField(max_length=255, blank=True)
    node = models.CharField(max_length=255, blank=True)

    finding_id = models.CharField(max_length=255, blank=True)
    package = models.CharField(max_length=255, blank=True)
    installed_version = models.CharField(max_length=255, blank=True)
    fixed_version = models.CharField(max_length=255, blank=True)
    cvss = models.FloatField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    fingerprint = models.CharField(max_length=64)
    batch = models.ForeignKey(EventBatch, on_delete=models.PROTECT, related_name="events")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Events without an account (manage.py ingest without --user, or the account was deleted) are kept apart
            # by the ingest service alone: NULLs are distinct here, so deleting an account never conflicts.
            models.UniqueConstraint(
                fields=["created_by", "uid"], condition=models.Q(uid__isnull=False), name="event_uid_per_account"
            ),
        ]
        indexes = [
            models.Index(fields=["type", "severity"]),
            models.Index(fields=["source"]),
            models.Index(fields=["cluster", "namespace"]),
            models.Index(fields=["registry", "repository"]),
            models.Index(fields=["repository"]),
            models.Index(fields=["finding_id"]),
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["fingerprint"]),
            # A person limited to a cluster scope: scopes compare case-insensitively (cluster__iexact is
            # UPPER(cluster) = UPPER(%s) on PostgreSQL), and the lists read newest first, so their first page is
            # a walk down this index however rare the cluster is among the stored events (bench/scoped_lists.py).
            # On PostgreSQL it is built with text_pattern_ops (migration 0009), so that it also answers the literal
            # prefix of a glob (UPPER(cluster) LIKE 'LEGAC%'); SQLite has no operator classes.
            models.Index(Upper("cluster"), F("id"), name="event_cluster_ci_id"),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} {self.type}: {self.title}"

    @property
    def evaluated_at(self):
        """When policies evaluated the event (its batch's time); None while it waits."""
        return self.batch.evaluated_at

    @property
    def severity_slug(self) -> str:
        return SEVERITY_SLUG_BY_VALUE[self.severity]

    @property
    def image_name(self) -> str:
        """``registry/repository:tag``, as much of it as is known."""
        ref = "/".join(part for part in (self.registry, self.repository) if part)
        return f"{ref}:{self.tag}" if self.tag else ref

    @property
    def image_reference(self) -> str:
        """``registry/repository:tag@digest``, as much of it as is known."""
        ref = self.image_name
        return f"{ref}@{self.digest}" if self.digest else ref

    @property
    def workload_reference(self) -> str:
        """``cluster/namespace/pod``, as much of it as is known."""
        return "/".join(part for part in (self.cluster, self.namespace, self.pod) if part)


# The threat types a person may accept the risk of (issue 9); any other type is refused naming this rule.
ACCEPTABLE_TYPES = (EventType.VULNERABILITY, EventType.MALWARE, EventType.SENSITIVE_DATA, EventType.MISCONFIGURATION)
ACCEPTABLE_TYPE_VALUES = [kind.value for kind in ACCEPTABLE_TYPES]
# Malware at least this severe can never be accepted.
MALWARE_NEVER_ACCEPTED_FROM = Severity.HIGH


class Extent(models.TextChoices):
    """Which images an acceptance covers."""

    IMAGE = "image", "This image"
    REPOSITORY = "repository", "Every image of the repository"
    ALL = "all", "Every image"


class AcceptanceState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class RiskAcceptanceQuerySet(models.QuerySet):
    def open(self):
        """Neither cancelled nor expired-and-recorded: what the index loads and what a new acceptance may update."""
        return self.filter(cancelled_at__isnull=True, expiry_recorded_at__isnull=True)

    def in_state(self, state: str, now=None):
        now = now or timezone.now()
        if state == AcceptanceState.CANCELLED:
            return self.filter(cancelled_at__isnull=False)
        not_cancelled = self.filter(cancelled_at__isnull=True)
        if state == AcceptanceState.EXPIRED:
            return not_cancelled.filter(expires_at__lte=now)
        return not_cancelled.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))

    def due(self, now):
        """Open acceptances whose period has ended but whose expiry was not recorded yet."""
        return self.open().filter(expires_at__lte=now)


class RiskAcceptance(models.Model):
    """A person's decision that a finding is an accepted risk on some images until a date (or for good).

    While active, matching events are stored and shown as usual but no response policy notifies about them
    (:mod:`events.acceptance_index`, read by the policies' muting). Changed only through :mod:`events.acceptances`.
    """

    type = models.CharField(max_length=32, choices=EventType.choices)
    finding_id = models.CharField(max_length=255)
    extent = models.CharField(max_length=16, choices=Extent.choices)
    # The image (extent image: digest, or tag when there is no digest) or repository; empty where the extent has none.
    registry = models.CharField(max_length=255, blank=True)
    repository = models.CharField(max_length=255, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    tag = models.CharField(max_length=128, blank=True)
    reason = models.TextField()
    # The worst severity stored for the finding when it was accepted (None: no event of it was stored yet).
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, null=True, blank=True)

    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by_name = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted")
    accepted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: unlimited")
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_by_name = models.CharField(max_length=150, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # When the expiry task turned the ended period into its risk_acceptance_expired event (exactly once).
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RiskAcceptanceQuerySet.as_manager()

    class Meta:
        ordering = ["-accepted_at", "-id"]
        # The two rights of the product: Django's add/change/delete are not used (one "manage" right, as for
        # response policies); "view" keeps Django's codename, so the admin reads it as the view right.
        default_permissions = ()
        permissions = [
            ("view_riskacceptance", "Can view risks (risk acceptances)"),
            ("manage_riskacceptance", "Can manage risks (accept, extend, cancel)"),
        ]
        constraints = [
            # Accepting the same finding and extent again updates the open acceptance (events.acceptances).
            models.UniqueConstraint(
                fields=["type", "finding_id", "extent", "registry", "repository", "digest", "tag"],
                condition=models.Q(cancelled_at__isnull=True, expiry_recorded_at__isnull=True),
                name="one_open_acceptance_per_extent",
            ),
        ]
        indexes = [
            models.Index(fields=["finding_id", "type"], name="acceptance_finding"),
            models.Index(
                fields=["expires_at"],
                name="acceptance_expiry_due",
                condition=models.Q(cancelled_at__isnull=True, expiry_recorded_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.finding_id} ({self.get_type_display().lower()}) on {self.extent_label}"

    def state_at(self, now) -> str:
        if self.cancelled_at is not None:
            return AcceptanceState.CANCELLED
        if self.expires_at is not None and self.expires_at <= now:
            return AcceptanceState.EXPIRED
        return AcceptanceState.ACTIVE

    @property
    def state(self) -> str:
        return self.state_at(timezone.now())

    @property
    def severity_slug(self) -> str | None:
        return None if self.severity is None else SEVERITY_SLUG_BY_VALUE[self.severity]

    @property
    def image_reference(self) -> str:
        """``registry/repository@digest`` or ``…:tag`` (extent image), ``registry/repository`` (repository)."""
        ref = "/".join(part for part in (self.registry, self.repository) if part)
        if self.digest:
            return f"{ref}@{self.digest}"
        return f"{ref}:{self.tag}" if self.tag else ref

    @property
    def affected_events_query(self) -> str:
        """The events list's query string for the events this acceptance covers."""
        params = {"type": self.type, "finding_id": self.finding_id}
        if self.extent != Extent.ALL:
            params |= {"registry": self.registry, "repository": self.repository}
        if self.extent == Extent.IMAGE:
            params |= {"digest": self.digest} if self.digest else {"tag": self.tag}
        return urlencode({key: value for key, value in params.items() if value})

    @property
    def extent_label(self) -> str:
        if self.extent == Extent.ALL:
            return "every image"
        if self.extent == Extent.REPOSITORY:
            return f"every image of {self.image_reference}"
        return self.image_reference


# --- Read models of the Overview, Images and Vulnerabilities screens ---------------------------------------------
# Kept up to date by events.insight in the ingest transaction (rebuilt from the events by `manage.py
# rebuild_insight`), so the screens read a few thousand rows instead of grouping millions of events.

SCAN_TYPES = (
    EventType.VULNERABILITY,
    EventType.MALWARE,
    EventType.SENSITIVE_DATA,
    EventType.MISCONFIGURATION,
    EventType.NON_COMPLIANT,
)


class EventCount(models.Model):
    """Events received in one UTC hour with one severity (the Overview's events chart)."""

    hour = models.DateTimeField()
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "severity"], name="one_event_count_per_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {Severity(self.severity).label}: {self.count}"


class Finding(models.Model):
    """A finding ID (CVE, secret rule, check id, malware name) ever reported by a scan: when it was first and last
    seen. Its open occurrences are :class:`OpenFinding` rows."""

    finding_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=32, choices=EventType.choices)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    # Over its open occurrences, refreshed whenever they change (events.insight.refresh_findings).
    images = models.PositiveIntegerField(default=0, help_text="Images where it is open")
    workloads = models.PositiveIntegerField(default=0)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, null=True, blank=True)
    cvss = models.FloatField(null=True, blank=True)
    has_fix = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["-images"], name="finding_most_images")]

    def __str__(self) -> str:
        return self.finding_id


class Image(models.Model):
    """A container image, ``registry/repository:tag@digest``, seen in any event; its open findings are those of
    its latest scan (see events.insight)."""

    registry = models.CharField(max_length=255, blank=True)
    repository = models.CharField(max_length=255)
    tag = models.CharField(max_length=128, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(help_text="The newest event of any type about this image")
    last_scanned = models.DateTimeField(null=True, blank=True, help_text="When its latest scan was received")
    # No foreign key: retention deletes batches with plain DELETEs (kcs.retention.delete_rows).
    last_batch_id = models.UUIDField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        choices=Severity.choices, null=True, blank=True, help_text="Highest severity of its open findings; empty: Ok"
    )
    critical = models.PositiveIntegerField(default=0)
    high = models.PositiveIntegerField(default=0)
    medium = models.PositiveIntegerField(default=0)
    low = models.PositiveIntegerField(default=0)
    negligible = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["registry", "repository", "tag", "digest"]
        constraints = [
            models.UniqueConstraint(fields=["registry", "repository", "tag", "digest"], name="one_image_per_reference")
        ]
        indexes = [models.Index(fields=["last_scanned"]), models.Index(fields=["last_seen"])]

    def __str__(self) -> str:
        return self.reference

    @property
    def name(self) -> str:
        ref = "/".join(part for part in (self.registry, self.repository) if part)
        return f"{ref}:{self.tag}" if self.tag else ref

    @property
    def reference(self) -> str:
        """``registry/repository:tag@digest``, as much of it as is known."""
        return f"{self.name}@{self.digest}" if self.digest else self.name

    @property
    def rating_slug(self) -> str:
        return SEVERITY_SLUG_BY_VALUE[self.rating] if self.rating is not None else "ok"

    def counts(self) -> dict[str, int]:
        """Open findings per severity slug, worst first."""
        return {s.slug: getattr(self, s.slug) for s in reversed(Severity)}


class ImageCluster(models.Model):
    """A cluster where an image was seen (any event naming both)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="clusters")
    cluster = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "cluster"], name="one_image_cluster")]

    def __str__(self) -> str:
        return f"{self.image_id}@{self.cluster}"


class OpenFinding(models.Model):
    """One event of an image's latest scan: what the image is exposed to now. Replaced when a newer scan of the
    image arrives."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="open_findings")
    finding = models.ForeignKey(
        Finding, null=True, blank=True, on_delete=models.CASCADE, related_name="open_findings"
    )  # None for a finding without an ID (e.g. Harbor's per-severity summaries)
    event_id = models.BigIntegerField(help_text="The event reporting it (no foreign key: events are purged apart)")
    type = models.CharField(max_length=32, choices=EventType.choices)
    key = models.CharField(max_length=500, help_text="The finding ID, or the title when there is none")
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    cvss = models.FloatField(null=True, blank=True)
    package = models.CharField(max_length=255, blank=True)
    installed_version = models.CharField(max_length=255, blank=True)
    fixed_version = models.CharField(max_length=255, blank=True)
    workload = models.CharField(
        max_length=800, null=True, blank=True, help_text="cluster/namespace/workload running it; empty when unknown"
    )

    def __str__(self) -> str:
        return f"{self.image_id}: {self.key}"
