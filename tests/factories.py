"""Factories (factory-boy) for what the tests store: people and their rights, API tokens, scopes, response policies,
notification integrations, security events and notifications, security event log entries.

Fixtures build through these, and test modules import from here (never from a conftest or another test module).
The ``make_*`` shortcuts at the end keep the short call signatures most tests use.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from factory.django import DjangoModelFactory
from rest_framework.test import APIClient

from events.models import EventBatch, EventType, Extent, RiskAcceptance, SecurityEvent, Severity
from events.services import FINGERPRINT_FIELDS, fingerprint
from kcs.models import ApiToken, AuditEntry, Role
from notifications.models import Notification, NotificationIntegration
from notifications.secrets import encrypt
from policies.models import NotificationMethod, ResponsePolicy, Scope, Silence, Trigger

PASSWORD = "pw-tests-12345"  # every factory-made person's password
HMAC_SECRET = "s3cret-hmac-key"  # the webhook integrations' signing secret (the e2e receiver checks it)


# --- people, rights, tokens ---------------------------------------------------------------------------------------
def grant(user, *codenames: str) -> None:
    """Give ``user`` the permissions named ``app_label.codename``."""
    for name in codenames:
        app_label, codename = name.split(".", 1)
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class UserFactory(DjangoModelFactory):
    """A person; ``groups=["IS officer"]`` puts them in seeded groups (system roles cover Global), ``rights=[…]`` grants
    single permissions, ``superuser=True`` makes an administrator. The password is :data:`PASSWORD`."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    class Params:
        superuser = factory.Trait(is_superuser=True, is_staff=True)

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def groups(self, create: bool, names, **kwargs) -> None:
        if create and names:
            groups = list(Group.objects.filter(name__in=names))
            assert len(groups) == len(names), f"no group named {set(names) - {g.name for g in groups}}"
            self.groups.add(*groups)

    @factory.post_generation
    def rights(self, create: bool, codenames, **kwargs) -> None:
        if create and codenames:
            grant(self, *codenames)

    @factory.post_generation
    def scopes(self, create: bool, scopes, **kwargs) -> None:
        """``scopes=[...]``: a private role (no rights of its own) holding these scopes; with the Global scope the
        person also gets *view global scope*, so ``rights=[...]`` plus ``scopes=[global_scope()]`` sees everything."""
        if create and scopes:
            give_scopes(self, scopes)


class ApiTokenFactory(DjangoModelFactory):
    """An API token issued as the product issues them (stored hashed); its plain key is on ``token.key``."""

    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    name = "test"
    expires_at = None

    @classmethod
    def _create(cls, model_class, user, name, expires_at=None, **kwargs):
        token, key = model_class.issue(user, name, expires_at=expires_at)
        token.key = key
        return token


def make_role(role_id: str, rights=(), scopes=(), name: str | None = None) -> Role:
    """A custom role (group + profile) with these rights (``app_label.codename``) and scopes."""
    group = Group.objects.create(name=name or f"Role {role_id}")
    for right in rights:
        app_label, codename = right.split(".", 1)
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    role = Role.objects.create(group=group, role_id=role_id)
    role.scopes.set(scopes)
    return role


def give_scopes(user, scopes) -> Role:
    """Put ``user`` in a private role holding ``scopes`` (and *view global scope* when Global is among them)."""
    role = make_role(f"T{user.pk}S{Role.objects.count()}", scopes=scopes, name=f"Scopes of {user.username} {user.pk}")
    user.groups.add(role.group)
    if any(scope.is_global for scope in scopes):
        grant(user, "kcs.view_global_scope")
    return role


def token_client(user, **token_fields) -> APIClient:
    """An API client that authenticates as ``user`` with a fresh API token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {ApiTokenFactory(user=user, **token_fields).key}")
    return client


# --- scopes, integrations, policies -------------------------------------------------------------------------------
def global_scope() -> Scope:
    """The built-in Global scope (seeded by a migration)."""
    scope, _ = Scope.objects.get_or_create(
        is_global=True, defaults={"name": "Global", "description": "Every resource (built in; cannot be changed)."}
    )
    return scope


class ScopeFactory(DjangoModelFactory):
    class Meta:
        model = Scope

    name = factory.Sequence(lambda n: f"Scope {n}")
    clusters = factory.LazyFunction(list)
    namespaces = factory.LazyFunction(list)
    registries = factory.LazyFunction(list)
    repositories = factory.LazyFunction(list)


# Per kind: a valid configuration and its secrets, pointing at documentation hosts (the tests never go online).
INTEGRATION_DEFAULTS: dict[str, tuple[dict, dict]] = {
    "webhook": ({"url": "https://hooks.example.com/kcs", "auth": "hmac"}, {"hmac_secret": HMAC_SECRET}),
    "telegram": (
        {"chat_id": "-1001234567890", "api_base_url": "https://api.telegram.org"},
        {"bot_token": "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ"},
    ),
    "slack": ({}, {"webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX"}),
    "teams": ({}, {"webhook_url": "https://example.webhook.office.com/workflows/abc"}),
    "email": ({"recipients": ["soc@example.com"], "sender": "KCS <kcs@example.com>", "smtp": None}, {}),
    "syslog": ({"host": "siem.example.com", "port": 514, "protocol": "udp"}, {}),
}


class NotificationIntegrationFactory(DjangoModelFactory):
    """A configured output of ``kind`` (webhook unless given) with a valid config; ``secrets`` are stored
    encrypted, as the product stores them."""

    class Meta:
        model = NotificationIntegration

    class Params:
        secrets = factory.LazyAttribute(lambda o: dict(INTEGRATION_DEFAULTS[o.kind][1]))

    kind = "webhook"
    name = factory.LazyAttributeSequence(lambda o, n: f"{o.kind} output {n}")
    enabled = True
    config = factory.LazyAttribute(lambda o: dict(INTEGRATION_DEFAULTS[o.kind][0]))
    secrets_encrypted = factory.LazyAttribute(lambda o: encrypt(o.secrets))


class ResponsePolicyFactory(DjangoModelFactory):
    """A response policy; ``scopes`` default to Global, ``methods`` (integrations, in order) to one new email output."""

    class Meta:
        model = ResponsePolicy
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Policy {n}")
    trigger = Trigger.CRITICAL_VULNERABILITIES
    min_severity = None
    enabled = True

    @factory.post_generation
    def scopes(self, create: bool, scopes, **kwargs) -> None:
        if create:
            self.scopes.set([global_scope()] if scopes is None else scopes)

    @factory.post_generation
    def methods(self, create: bool, integrations, **kwargs) -> None:
        if create:
            if integrations is None:
                integrations = [NotificationIntegrationFactory(kind="email")]
            for position, integration in enumerate(integrations):
                NotificationMethod.objects.create(policy=self, integration=integration, position=position)


class SilenceFactory(DjangoModelFactory):
    """A silence active from now for a day (stored directly: tests of the rules go through the services)."""

    class Meta:
        model = Silence

    matchers = factory.LazyFunction(lambda: {"finding_id": "CVE-2026-0001"})
    policies = factory.LazyFunction(list)
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda silence: silence.starts_at + timedelta(days=1))
    comment = "Known issue, fix on its way"


# --- security events ----------------------------------------------------------------------------------------------
class EventBatchFactory(DjangoModelFactory):
    class Meta:
        model = EventBatch

    source = "trivy"
    received = 1
    created = 1
    received_at = factory.LazyFunction(timezone.now)


class SecurityEventFactory(DjangoModelFactory):
    """A stored, not yet evaluated critical openssl vulnerability in registry.example.com/shop/web:1.4.2.

    ``index`` (a parameter) numbers the finding: events with the same index are the same finding (same
    fingerprint), so two batches built with indexes 0..n repeat each other's findings.
    """

    class Meta:
        model = SecurityEvent

    class Params:
        index = factory.Sequence(lambda n: n)

    batch = factory.SubFactory(EventBatchFactory)
    type = EventType.VULNERABILITY
    severity = Severity.CRITICAL
    source = "trivy"
    title = factory.LazyAttribute(lambda o: f"openssl: buffer overflow #{o.index}")
    finding_id = factory.LazyAttribute(lambda o: f"CVE-2024-{1000 + o.index}")
    package = "openssl"
    installed_version = "3.0.1"
    fixed_version = "3.0.7"
    cvss = 9.1
    registry = "registry.example.com"
    repository = "shop/web"
    tag = "1.4.2"
    digest = "sha256:" + "ab" * 32
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    received_at = factory.SelfAttribute("batch.received_at")
    fingerprint = factory.LazyAttribute(
        lambda o: fingerprint({name: getattr(o, name, "") for name in FINGERPRINT_FIELDS})
    )


def make_batch(count: int = 1, *, received_at=None, **fields) -> EventBatch:
    """A stored batch of ``count`` events (findings 0…count-1, not evaluated), as the ingest service leaves it."""
    batch = EventBatchFactory(received=count, created=count, received_at=received_at or timezone.now())
    SecurityEvent.objects.bulk_create(
        SecurityEventFactory.build(batch=batch, index=index, **fields) for index in range(count)
    )
    return batch


def vulnerability(**overrides) -> dict[str, Any]:
    """A critical vulnerability as a CI job posts it to ``/api/v1/events/`` (JSON slugs, not stored values)."""
    return {
        "type": "vulnerability",
        "severity": "critical",
        "title": "openssl: X.400 address type confusion",
        "source": "trivy",
        "registry": "registry.example.com",
        "repository": "shop/payments",
        "tag": "2.3.1",
        "digest": "sha256:" + "ab" * 32,
        "finding_id": "CVE-2023-0286",
        "package": "libssl3",
        "installed_version": "3.0.7-r0",
        "fixed_version": "3.0.8-r0",
        "cvss": 7.4,
        "occurred_at": "2026-11-20T10:00:00Z",
    } | overrides


class RiskAcceptanceFactory(DjangoModelFactory):
    """An active acceptance of CVE-2024-1000 on every image of registry.example.com/shop/web for 30 days, stored
    directly (not through the service under test)."""

    class Meta:
        model = RiskAcceptance

    type = EventType.VULNERABILITY
    finding_id = "CVE-2024-1000"
    extent = Extent.REPOSITORY
    registry = "registry.example.com"
    repository = "shop/web"
    reason = "Not reachable in this service"
    severity = Severity.CRITICAL
    accepted_by_name = "officer"
    accepted_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


# --- notifications and the security event log ---------------------------------------------------------------------
class NotificationFactory(DjangoModelFactory):
    """A pending notification through a new webhook output, carrying ``events`` (default: a new one-event batch)."""

    class Meta:
        model = Notification
        skip_postgeneration_save = True

    integration = factory.SubFactory(NotificationIntegrationFactory)
    integration_name = factory.SelfAttribute("integration.name")
    policy = None
    policy_name = "P"
    idempotency_key = factory.Sequence(lambda n: f"key-{n}")

    @factory.post_generation
    def events(self, create: bool, events, **kwargs) -> None:
        if create:
            self.events.set(make_batch(1).events.all() if events is None else events)


class AuditEntryFactory(DjangoModelFactory):
    """A security event log entry: ``alice`` changed the response policy ``Critical CVEs`` from the screens."""

    class Meta:
        model = AuditEntry

    timestamp = factory.LazyFunction(timezone.now)
    actor_name = "alice"
    action = "update"
    object_type = "response policy"
    object_id = "1"
    object_repr = "Critical CVEs"
    source = "ui"


# --- shortcuts with the signatures most tests use -----------------------------------------------------------------
def make_integration(
    kind: str, name: str | None = None, *, config: dict | None = None, secrets: dict | None = None, enabled: bool = True
) -> NotificationIntegration:
    fields: dict[str, Any] = {"kind": kind, "enabled": enabled}
    for key, value in (("name", name), ("config", config), ("secrets", secrets)):
        if value is not None:
            fields[key] = value
    return NotificationIntegrationFactory(**fields)


def make_policy(
    name: str,
    integrations: list[NotificationIntegration],
    *,
    trigger: str = Trigger.CRITICAL_VULNERABILITIES,
    min_severity: int | None = None,
    repeat_interval: int = 3600,
    enabled: bool = True,
    scopes: list[Scope] | None = None,
) -> ResponsePolicy:
    return ResponsePolicyFactory(
        name=name,
        methods=integrations,
        trigger=trigger,
        min_severity=min_severity,
        repeat_interval=repeat_interval,
        enabled=enabled,
        scopes=scopes,
    )


def hook(receivers: dict, name: str = "hook", **config) -> NotificationIntegration:
    """An HMAC-signed webhook output posting to the end-to-end HTTP receiver's ``/hook/<name>``."""
    return make_integration(
        "webhook",
        name,
        config={"url": f"{receivers['http'].url}/hook/{name}", "auth": "hmac", **config},
        secrets={"hmac_secret": HMAC_SECRET},
    )


def falco_alert(number: int) -> dict:
    """A Falco json_output alert; ``number`` makes its time, text and pod unique."""
    return {
        "rule": "Terminal shell in container",
        "priority": "Warning",
        "time": f"2026-11-20T10:00:{number % 60:02d}.{number:09d}Z",
        "output": f"shell {number}",
        "output_fields": {"k8s.ns.name": "shop", "k8s.pod.name": f"api-{number}"},
    }


# Request bodies of the response-policy API and screen.
POLICIES = "/api/v1/response-policies/"
SCOPES = "/api/v1/scopes/"


def body(global_scope, outputs, **fields) -> dict:
    data = {
        "name": "Critical CVEs",
        "scopes": [global_scope.pk],
        "trigger": "critical_vulnerabilities",
        "notification_methods": [outputs["mail"].pk, outputs["chat"].pk],
    }
    data.update(fields)
    return data


def form_data(global_scope, methods, **fields) -> dict:
    """What the policy form posts: ``methods`` is a list of (output type, integration id) rows."""
    data = {
        "name": "Malware everywhere",
        "description": "",
        "enabled": "on",
        "scopes": [global_scope.pk],
        "trigger": Trigger.MALWARE,
        "min_severity": "",
        "repeat_interval": "14400",
        "methods-TOTAL_FORMS": str(len(methods)),
        "methods-INITIAL_FORMS": "0",
        "methods-MIN_NUM_FORMS": "0",
        "methods-MAX_NUM_FORMS": "1000",
    }
    for index, (kind, integration_id) in enumerate(methods):
        data[f"methods-{index}-kind"] = kind
        data[f"methods-{index}-integration"] = "" if integration_id is None else str(integration_id)
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def ingest_at(moment, items: list[dict], source: str = "trivy", user=None):
    """Store ``items`` (event dicts as the API takes them) through the ingest service as if received at
    ``moment``: the read models of the Overview, Images and Vulnerabilities are updated as in production."""
    from unittest import mock

    from events import services

    with mock.patch.object(services.timezone, "now", return_value=moment):
        return services.ingest(items, source=source, user=user)


def finding(repository: str = "shop/web", tag: str = "1.0", finding_id: str = "CVE-2024-0001", **overrides) -> dict:
    """A vulnerability of ``registry.example.com/<repository>:<tag>`` as a scanner reports it."""
    return (
        vulnerability(
            repository=repository, tag=tag, digest="", finding_id=finding_id, title=f"{finding_id} in openssl"
        )
        | overrides
    )
