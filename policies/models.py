"""Scopes, response policies and their notification methods."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from events.models import EventType, Severity

GLOBAL_SCOPE_NAME = "Global"


class Scope(models.Model):
    """A named set of resources. An event is in a scope when every non-empty pattern list matches its field.

    The built-in Global scope (``is_global``) covers everything and cannot be edited or deleted.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_global = models.BooleanField(default=False, editable=False)
    clusters = models.JSONField(default=list, blank=True, help_text="Glob patterns, e.g. prod-*")
    namespaces = models.JSONField(default=list, blank=True)
    registries = models.JSONField(default=list, blank=True)
    repositories = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    PATTERN_FIELDS = ("clusters", "namespaces", "registries", "repositories")

    class Meta:
        ordering = ["-is_global", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_global"], condition=models.Q(is_global=True), name="one_global_scope")
        ]

    def __str__(self) -> str:
        return self.name


class Trigger(models.TextChoices):
    """What kind of event a policy reacts to. The first five are the KCS triggers, in the order KCS lists them."""

    SENSITIVE_DATA = "sensitive_data", "Sensitive data"
    NON_COMPLIANT = "non_compliant", "Non-compliant"
    CRITICAL_VULNERABILITIES = "critical_vulnerabilities", "Critical vulnerabilities"
    MALWARE = "malware", "Malware"
    RISK_ACCEPTANCE_EXPIRATION = "risk_acceptance_expiration", "Risk acceptance expiration"
    MISCONFIGURATIONS = "misconfigurations", "Misconfigurations"
    RUNTIME_THREATS = "runtime_threats", "Runtime threats"


# The event type each trigger reacts to.
TRIGGER_EVENT_TYPE = {
    Trigger.SENSITIVE_DATA: EventType.SENSITIVE_DATA,
    Trigger.NON_COMPLIANT: EventType.NON_COMPLIANT,
    Trigger.CRITICAL_VULNERABILITIES: EventType.VULNERABILITY,
    Trigger.MALWARE: EventType.MALWARE,
    Trigger.RISK_ACCEPTANCE_EXPIRATION: EventType.RISK_ACCEPTANCE_EXPIRED,
    Trigger.MISCONFIGURATIONS: EventType.MISCONFIGURATION,
    Trigger.RUNTIME_THREATS: EventType.RUNTIME,
}
# Triggers with a severity threshold, and the threshold a new policy starts with.
TRIGGER_DEFAULT_SEVERITY = {
    Trigger.CRITICAL_VULNERABILITIES: Severity.CRITICAL,
    Trigger.MISCONFIGURATIONS: Severity.HIGH,
    Trigger.RUNTIME_THREATS: Severity.HIGH,
}

DEFAULT_REPEAT_INTERVAL = 4 * 60 * 60  # seconds; as Alertmanager's default repeat_interval


class ResponsePolicy(models.Model):
    """Which security events must be acted on (trigger + scopes) and through which outputs (methods)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    scopes = models.ManyToManyField(Scope, related_name="policies")
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    min_severity = models.PositiveSmallIntegerField(choices=Severity.choices, null=True, blank=True)
    repeat_interval = models.PositiveIntegerField(
        default=DEFAULT_REPEAT_INTERVAL,
        help_text="Seconds during which the same finding is not notified again by this policy (0: always)",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "response policies"
        permissions = [("manage_responsepolicy", "Can manage response policy settings")]
        indexes = [models.Index(fields=["enabled", "trigger"])]

    def __str__(self) -> str:
        return self.name


class NotificationMethod(models.Model):
    """One output of a policy: an ordered row pointing at a notification integration."""

    policy = models.ForeignKey(ResponsePolicy, on_delete=models.CASCADE, related_name="notification_methods")
    integration = models.ForeignKey(
        "notifications.NotificationIntegration", on_delete=models.PROTECT, related_name="notification_methods"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["policy", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "integration"], name="one_method_per_integration"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} → {self.integration}"


class Silence(models.Model):
    """A time-boxed mute: while active, events its ``matchers`` hold for send nothing through its policies.

    ``matchers`` maps an event field to a value (see :mod:`policies.silence_rules`), every one must hold;
    ``policies`` lists response policy ids (empty: every policy). Ids rather than a relation: deleting a policy must
    not turn a silence of that one policy into a silence of all of them. A silence is never deleted: expiring it
    (by hand, or by editing it, which stores a new version that ``replaces`` it) ends it now.
    """

    matchers = models.JSONField(default=dict)
    policies = models.JSONField(default=list, blank=True, help_text="Response policy ids; empty: every policy")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when it was ended before its time: expired by hand, or replaced by a new version.
    expired_at = models.DateTimeField(null=True, blank=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by", editable=False
    )

    class Meta:
        ordering = ["-id"]
        permissions = [("manage_silence", "Can manage silences")]
        indexes = [models.Index(fields=["ends_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gte=models.F("starts_at")), name="silence_ends_after")
        ]

    def __str__(self) -> str:
        return f"Silence #{self.pk}"

    def state_at(self, now) -> str:
        """``pending``, ``active`` or ``expired`` at ``now``."""
        if now >= self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.PENDING if now < self.starts_at else SilenceState.ACTIVE


class SilenceState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
