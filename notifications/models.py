"""Notification outputs (integrations) and the delivery outbox (notifications)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class IntegrationKind(models.TextChoices):
    EMAIL = "email", "Email"
    TELEGRAM = "telegram", "Telegram"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    SYSLOG = "syslog", "Syslog (CEF)"


class NotificationIntegration(models.Model):
    """A configured output. ``config`` is validated per kind by its channel; secrets are stored encrypted."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=IntegrationKind.choices)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, editable=False)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = "notification integration"

    def __str__(self) -> str:
        return self.name


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"


class Notification(models.Model):
    """The delivery outbox: one message for one (policy, integration) covering one or more events."""

    policy = models.ForeignKey(
        "policies.ResponsePolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    policy_name = models.CharField(max_length=100, blank=True, help_text="Kept when the policy is deleted")
    integration = models.ForeignKey(NotificationIntegration, on_delete=models.PROTECT, related_name="notifications")
    batch = models.ForeignKey("events.EventBatch", null=True, blank=True, on_delete=models.SET_NULL)
    events = models.ManyToManyField("events.SecurityEvent", related_name="notifications")
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.policy_name} → {self.integration} [{self.status}]"
