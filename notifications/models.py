"""Notification outputs (integrations) and the delivery outbox (notifications)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationIntegration(models.Model):
    """A configured output. ``config`` is validated per kind by its channel; secrets are stored encrypted."""

    name = models.CharField(max_length=100, unique=True)
    # No choices here: the kinds are the channel registry's (notifications.channels.registry), checked by the
    # service that writes integrations, so adding a kind needs no migration.
    kind = models.CharField(max_length=16)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, editable=False)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The next free send slot of a rate-limited output, shared by every worker process (see delivery.reserve_slot).
    rate_slot_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = "notification integration"

    def __str__(self) -> str:
        return self.name

    @property
    def kind_label(self) -> str:
        """The kind as people read it (e.g. "Microsoft Teams")."""
        # Imported here, not at module level: importing the registry runs the channels package, whose channel
        # modules import this module (through their forms) while it is still loading.
        from notifications.channels.registry import kind_label

        return kind_label(self.kind)


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    # Held back by a risk acceptance or a silence (``muted_by`` says which): recorded, never sent.
    MUTED = "muted", "Muted"


class NotificationStream(models.TextChoices):
    """What a row of the outbox carries: a response policy's message, or a SIEM stream's record(s).

    SIEM rows (:mod:`notifications.siem`) have no policy: ``audit`` carries one security event log entry
    (``audit_entry``), ``events`` the security events of one ingested batch (``events``)."""

    POLICY = "", "Response policy"
    AUDIT = "audit", "SIEM: security event log"
    EVENTS = "events", "SIEM: security events"


class Notification(models.Model):
    """The delivery outbox: one message for one (policy, integration) covering one or more events, or one record
    of a SIEM stream (``stream``; no policy)."""

    policy = models.ForeignKey(
        "policies.ResponsePolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    policy_name = models.CharField(max_length=100, blank=True, help_text="Kept when the policy is deleted")
    # Why the message is sent, as the deciding layer said it: notifications deliver without knowing policies.
    trigger = models.CharField(max_length=32, blank=True)
    trigger_label = models.CharField(max_length=100, blank=True)
    # SET_NULL (not PROTECT): deleting an output must not erase or block the record of what it delivered.
    integration = models.ForeignKey(
        NotificationIntegration, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    integration_name = models.CharField(max_length=100, blank=True, help_text="Kept when the integration is deleted")
    batch = models.ForeignKey("events.EventBatch", null=True, blank=True, on_delete=models.SET_NULL)
    events = models.ManyToManyField("events.SecurityEvent", related_name="notifications")
    # Indexed by Meta's (status, next_attempt_at), which serves lookups by status alone too. Each index of this table
    # is written for every row evaluation makes (hundreds per batch), so none is kept that no query needs.
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=64)  # unique: Meta.constraints (no LIKE index beside it)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The claim's lease: renewed by the sending worker while the send is in flight; once past, a row still in
    # "sending" belongs to a worker that died and may be taken over (notifications/lease.py).
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set while the row holds a reserved send slot of a rate-limited output (it is sent at that time, not later).
    throttled_until = models.DateTimeField(null=True, blank=True)
    # On a muted row: what held it back, as the deciding layer names it ("acceptance:<id>", "silence:<id>").
    # A reference, not a foreign key: notifications deliver without knowing why, and the record outlives the mute.
    # A database default too, so rows inserted by SQL of their own (the benches) need not name it.
    # Indexed for muted rows only (Meta.indexes): every reader asks for muted rows.
    muted_by = models.CharField(max_length=40, blank=True, default="", db_default="")
    # db_default too: rows written by SQL of their own (bench/retention.py's bulk load) are policy rows.
    stream = models.CharField(max_length=8, choices=NotificationStream.choices, default="", db_default="", blank=True)
    # The log entry an "audit" row carries. SET_NULL: the log's own retention may remove it (the row then fails).
    # Indexed where set (Meta.indexes): policy rows never are.
    audit_entry = models.ForeignKey(
        "kcs.AuditEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(
                fields=["muted_by"], name="notification_muted_by", condition=Q(status=NotificationStatus.MUTED)
            ),
            models.Index(
                fields=["audit_entry"], name="notification_audit_entry", condition=Q(audit_entry__isnull=False)
            ),
        ]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="notification_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.source_label} → {self.integration_name or self.integration_id} [{self.status}]"

    @property
    def is_siem_stream(self) -> bool:
        return self.stream != NotificationStream.POLICY

    @property
    def source_label(self) -> str:
        """What the row was made for, as lists show it: the policy's name, or the SIEM stream it belongs to."""
        if self.is_siem_stream:
            return NotificationStream(self.stream).label
        return self.policy_name

    @property
    def can_retry(self) -> bool:
        return self.status == NotificationStatus.FAILED


class RepeatMark(models.Model):
    """When a fingerprint was last notified by a policy through an integration, and until when it stays quiet.

    Written only by :func:`policies.evaluation.claim_fingerprints` with one conditional upsert, which is what
    makes repeat suppression race-safe between concurrently evaluated batches.
    """

    policy = models.ForeignKey("policies.ResponsePolicy", on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(NotificationIntegration, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    notified_at = models.DateTimeField()
    quiet_until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "integration", "fingerprint"], name="one_repeat_mark"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id}/{self.integration_id}/{self.fingerprint[:12]} quiet until {self.quiet_until}"
