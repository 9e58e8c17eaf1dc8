"""API tokens and the security event log (audit entries)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "kcs_"


def hash_token_key(key: str) -> str:
    """The stored form of a token key. Keys are 256-bit random, so a fast hash is enough (no brute force)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiToken(models.Model):
    """A named API key of one user. Only its hash is stored; the key is shown once, when it is created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise a key")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @classmethod
    def issue(cls, user, name: str, expires_at=None) -> tuple[ApiToken, str]:
        """Create a token and return it with its plain key (the only time the key is available)."""
        key = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, key_hash=hash_token_key(key), key_prefix=key[:10], expires_at=expires_at
        )
        return token, key

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    ENABLE = "enable", "Enabled"
    DISABLE = "disable", "Disabled"
    DELETE = "delete", "Deleted"
    TEST = "test", "Tested"
    RETRY = "retry", "Retried"
    # Risk acceptances (events.acceptances)
    ACCEPT = "accept", "Accepted"
    EXTEND = "extend", "Extended"
    CANCEL = "cancel", "Cancelled"
    EXPIRE = "expire", "Expired"
    # Sign-ins, tokens, alerts, refused ingest requests (kcs.signin, kcs.tokens, policies.alerts, kcs.refusals)
    SIGN_IN = "sign_in", "Signed in"
    SIGN_OUT = "sign_out", "Signed out"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Locked out"
    SIGN_IN_REFUSED = "sign_in_refused", "Sign-in refused"
    PASSWORD_CHANGE = "password_change", "Password changed"
    PASSWORD_RESET = "password_reset", "Password reset"
    REVOKE = "revoke", "Revoked"
    ALERT = "alert", "Alert"
    INGEST_REFUSED = "ingest_refused", "Ingest refused"


class AuditCategory(models.TextChoices):
    """The tabs of the security event log."""

    ADMINISTRATION = "administration", "Administration"
    ALERTS = "alerts", "Alerts"
    POLICIES = "policies", "Policies"
    INTEGRATIONS = "integrations", "Integrations"
    EVENTS = "events", "Events"


class AuditSource(models.TextChoices):
    UI = "ui", "Screen"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class AuditEntry(models.Model):
    """One entry of the security event log: a configuration change, a sign-in, an alert about a triggered response
    policy or a refused ingest request: who, what, when and from where."""

    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    category = models.CharField(max_length=16, choices=AuditCategory.choices, default=AuditCategory.ADMINISTRATION)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted")
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=AuditSource.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        verbose_name = "security event log entry"
        verbose_name_plural = "security event log"
        indexes = [
            models.Index(fields=["actor", "timestamp"]),
            models.Index(fields=["object_type", "timestamp"]),
            models.Index(fields=["category", "timestamp"]),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr}"


class ConfigRevision(models.Model):
    """A revision number per cached configuration (e.g. the compiled policy index), renewed on every change.

    Web processes change policies while worker processes match events; each process keeps its compiled copy and
    compares this one number (a primary-key read) to know when to rebuild it.
    """

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}@{self.value}"


class WorkerHeartbeat(models.Model):
    """When a Celery worker last finished a task taken from ``queue`` (see :mod:`kcs.heartbeat`); read by /metrics.

    The sweepers run on each queue every ``KCS_SWEEP_INTERVAL``, so a live worker with a live beat beats at least
    that often. Kept in the database so that any web process, on any host, can tell.
    """

    queue = models.CharField(max_length=64, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.queue} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


class Right(models.Model):
    """Holder of the product's rights that are not one model's view/add/change/delete (no table of its own).

    Each right is a Django permission (``kcs.<codename>``); :mod:`kcs.rights` is the catalog that names every right
    of the product, whichever app it belongs to.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("manage_scope", "Can manage scopes"),
            ("view_global_scope", "Can view the Global scope"),
            ("manage_global_scope", "Can manage the Global scope"),
            ("manage_integration", "Can manage integrations"),
            ("view_access", "Can view users and roles"),
            ("manage_access", "Can manage users and roles"),
            ("manage_own_tokens", "Can manage own API tokens"),
        ]


class Role(models.Model):
    """A role: a Django group (its name and permissions are the role's name and rights) plus what a person reads
    on the Roles screen. System roles are seeded by migration and cannot be changed or deleted."""

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="role")
    role_id = models.CharField("role ID", max_length=32, unique=True)
    description = models.TextField(blank=True)
    is_system = models.BooleanField(default=False, editable=False)
    # What the role's members see (kcs.visibility). Named by string: scopes belong to the policies app, and this
    # layer never imports it. System roles are not stored here: each of them covers the Global scope.
    scopes = models.ManyToManyField("policies.Scope", blank=True, related_name="roles")

    class Meta:
        ordering = ["group__name"]

    def __str__(self) -> str:
        return f"{self.group.name} ({self.role_id})"

    @property
    def name(self) -> str:
        return self.group.name


class UserProfile(models.Model):
    """What the product keeps about a person beside Django's user: the display name and a forced password change."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=150, blank=True)
    must_change_password = models.BooleanField(
        default=False, help_text="The person can do nothing else after signing in until they set a new password."
    )
    # Narrows what the person's roles let them see to these scopes (none: every scope of their roles); this is how
    # one member of a system role (which covers Global) is limited to, say, the prod cluster.
    scopes = models.ManyToManyField(
        "policies.Scope",
        blank=True,
        related_name="limited_users",
        help_text="Limit the person to these scopes of their roles; empty: every scope of their roles.",
    )

    def __str__(self) -> str:
        return self.display_name or str(self.user)
