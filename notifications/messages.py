"""What a message says: the events of a notification, worst first, ready for the per-channel templates.

Templates under ``templates/messages/<kind>/`` turn a :class:`MessageContext` into text; no channel builds message
text itself. A context lists at most ``limit`` events and counts the rest ("and N more").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from events.models import EventType, SecurityEvent, Severity
from kcs.models import AuditEntry
from notifications.audit_records import AlertFacts, is_alert
from notifications.models import Notification, NotificationStream

# The trigger a test message pretends to come from (a critical vulnerability, like its sample event).
SAMPLE_TRIGGER = "critical_vulnerabilities"
SAMPLE_TRIGGER_LABEL = "Critical vulnerabilities"

# Event fields no message shows: not loaded for messages (``details`` can be large, and decoding it costs).
UNUSED_IN_MESSAGES = ("details", "description")

# How many distinct images/workloads a summary names before "and N more".
RESOURCE_LIMIT = 3


def event_url(event_id: int | None) -> str:
    """The event's page in the UI (the event list for a test message's sample event)."""
    base = settings.KCS_BASE_URL
    return f"{base}/events/{event_id}/" if event_id else f"{base}/events/"


def notification_url(notification_id: int | None) -> str:
    """The notification's page (every event it carries), or the delivery log for a test message."""
    base = settings.KCS_BASE_URL
    return f"{base}/notifications/{notification_id}/" if notification_id else f"{base}/notifications/"


@dataclass(frozen=True)
class EventLine:
    """One event as templates and JSON payloads see it."""

    id: int | None
    url: str
    type: str
    type_label: str
    severity: str
    severity_label: str
    severity_value: int
    title: str
    finding_id: str
    package: str
    installed_version: str
    fixed_version: str
    cvss: float | None
    image: str
    workload: str
    container: str
    source: str
    occurred_at: datetime | None
    fingerprint: str

    @property
    def where(self) -> str:
        """The resource in one phrase: the image, else the workload."""
        return self.image or self.workload

    @classmethod
    def of(cls, event: SecurityEvent) -> EventLine:
        severity = Severity(event.severity)
        return cls(
            id=event.pk,
            url=event_url(event.pk),
            type=event.type,
            type_label=EventType(event.type).label,
            severity=severity.slug,
            severity_label=severity.label,
            severity_value=int(severity),
            title=event.title,
            finding_id=event.finding_id,
            package=event.package,
            installed_version=event.installed_version,
            fixed_version=event.fixed_version,
            cvss=event.cvss,
            image=event.image_reference,
            workload=event.workload_reference,
            container=event.container,
            source=event.source,
            occurred_at=event.occurred_at,
            fingerprint=event.fingerprint,
        )

    def as_template_dict(self) -> dict[str, Any]:
        """The event as message templates see it: plain data (see :data:`notifications.templating.EVENT_VARIABLES`), no model behind it."""
        return {**self.as_json(), **{name: getattr(self, name) for name in _TEMPLATE_ONLY}, "where": self.where}

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "type": self.type,
            "severity": self.severity,
            "title": self.title,
            "finding_id": self.finding_id,
            "package": self.package,
            "installed_version": self.installed_version,
            "fixed_version": self.fixed_version,
            "cvss": self.cvss,
            "image": self.image,
            "workload": self.workload,
            "container": self.container,
            "source": self.source,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "fingerprint": self.fingerprint,
        }


_TEMPLATE_ONLY = ("type_label", "severity_label", "severity_value", "occurred_at")


def event_json(line: dict[str, Any]) -> dict[str, Any]:
    """An event of :meth:`MessageContext.as_dict` as JSON payloads carry it (the fields of :meth:`EventLine.as_json`)."""
    occurred = line["occurred_at"]
    data = {key: line[key] for key in _JSON_KEYS}
    data["occurred_at"] = occurred.isoformat() if isinstance(occurred, datetime) else occurred
    data["fingerprint"] = line["fingerprint"]
    return data


_JSON_KEYS = (
    "id", "url", "type", "severity", "title", "finding_id", "package", "installed_version", "fixed_version", "cvss",
    "image", "workload", "container", "source",
)  # fmt: skip


def notification_events(notification_id: int) -> list[SecurityEvent]:
    """The events of a notification."""
    return notification_events_by_id([notification_id]).get(notification_id, [])


def notification_events_by_id(notification_ids: list[int]) -> dict[int, list[SecurityEvent]]:
    """The events of several notifications, by notification id. Link rows first, then events by primary key: two
    index lookups whatever the table statistics say (a join ordered by id lets the planner walk the whole events
    table)."""
    links = list(
        Notification.events.through.objects.filter(notification_id__in=notification_ids).values_list(
            "notification_id", "securityevent_id"
        )
    )
    events = {
        event.pk: event
        for event in SecurityEvent.objects.filter(pk__in={event_id for _, event_id in links})
        .defer(*UNUSED_IN_MESSAGES)
        .order_by()
    }
    result: dict[int, list[SecurityEvent]] = {}
    for notification_id, event_id in links:
        if event_id in events:
            result.setdefault(notification_id, []).append(events[event_id])
    return result


def alert_facts(entry: AuditEntry) -> AlertFacts:
    """What the notification a policy-alert entry names (its ``object_id``) says: policy, trigger, worst event and
    its image. Empty facts when the entry names no notification that still exists."""
    # policies/alerts.py names the notification in the entry's changes (its object is the policy).
    named = entry.changes.get("notification") if isinstance(entry.changes, dict) else None
    if named is None and entry.object_type.lower() != "response policy":
        named = entry.object_id
    named = str(named or "")
    notification = (
        Notification.objects.filter(pk=int(named)).only("policy_name", "trigger", "trigger_label").first()
        if named.isascii() and named.isdigit()
        else None
    )
    if notification is None:
        return AlertFacts(policy_name=entry.object_repr if entry.object_type.lower() == "response policy" else "")
    events = sorted(notification_events(notification.pk), key=_worst_first)
    return AlertFacts(
        policy_name=notification.policy_name,
        trigger=notification.trigger,
        trigger_label=notification.trigger_label,
        image=events[0].image_reference if events else "",
        severity=events[0].severity if events else None,
    )


def _worst_first(event: SecurityEvent) -> tuple:
    return (-event.severity, -(event.cvss or 0.0), event.pk or 0)


def _named(items: list[str]) -> tuple[list[str], int]:
    distinct = list(dict.fromkeys(item for item in items if item))
    return distinct[:RESOURCE_LIMIT], max(len(distinct) - RESOURCE_LIMIT, 0)


class MessageContext:
    """The facts of one notification: policy, trigger, output, delivery id and its events sorted worst first."""

    def __init__(
        self,
        *,
        policy_id: int | None,
        policy_name: str,
        trigger: str,
        trigger_label: str = "",
        integration_name: str,
        delivery_id: str,
        events: list[SecurityEvent],
        created_at: datetime | None = None,
        is_test: bool = False,
        notification_id: int | None = None,
        stream: str = NotificationStream.POLICY,
        audit_entry: AuditEntry | None = None,
        alert_facts: AlertFacts | None = None,
    ):
        self.notification_id = notification_id
        # A SIEM stream's row (notifications.siem): "audit" carries ``audit_entry`` (with ``alert_facts`` when the
        # entry is a policy alert), "events" the events of a batch; "" a response policy's message.
        self.stream = stream
        self.audit_entry = audit_entry
        self.alert_facts = alert_facts
        self.policy_id = policy_id
        self.policy_name = policy_name
        self.trigger = trigger
        # A row stored without a label (made by hand or by an older version) still reads well.
        self.trigger_label = trigger_label or trigger.replace("_", " ").capitalize() or "Response policy"
        self.integration_name = integration_name
        self.delivery_id = delivery_id
        self.events = sorted(events, key=_worst_first)
        self.created_at = created_at or timezone.now()
        self.is_test = is_test

    @classmethod
    def for_notification(cls, notification, events: list[SecurityEvent] | None = None) -> MessageContext:
        """The context of a stored notification; ``events`` when the caller already loaded them."""
        if notification.stream == NotificationStream.AUDIT:
            entry = notification.audit_entry  # None once the log's retention removed it (the channel says so)
            return cls(
                policy_id=None,
                policy_name="",
                trigger="",
                trigger_label="Security event log",
                integration_name=notification.integration_name,
                delivery_id=notification.idempotency_key,
                events=[],
                created_at=notification.created_at,
                notification_id=notification.pk,
                stream=notification.stream,
                audit_entry=entry,
                alert_facts=alert_facts(entry) if entry is not None and is_alert(entry) else None,
            )
        return cls(
            policy_id=notification.policy_id,
            policy_name=notification.policy_name,
            trigger=notification.trigger,
            trigger_label=notification.trigger_label,
            integration_name=notification.integration_name,
            delivery_id=notification.idempotency_key,
            events=notification_events(notification.pk) if events is None else events,
            created_at=notification.created_at,
            notification_id=notification.pk,
            stream=notification.stream,
        )

    @classmethod
    def sample(cls, integration, delivery_id: str) -> MessageContext:
        """The test message of an output: one made-up critical vulnerability (never stored)."""
        now = timezone.now()
        event = SecurityEvent(
            type=EventType.VULNERABILITY,
            severity=Severity.CRITICAL,
            source="test",
            title="Test finding: openssl buffer overflow (sample data)",
            finding_id="CVE-0000-0000",
            package="openssl",
            installed_version="3.0.1",
            fixed_version="3.0.7",
            cvss=9.8,
            registry="registry.example.com",
            repository="shop/web",
            tag="1.4.2",
            cluster="prod",
            namespace="shop",
            pod="web-6d9f",
            fingerprint="0" * 64,
            occurred_at=now,
        )
        return cls(
            policy_id=None,
            policy_name="Test message",
            trigger=SAMPLE_TRIGGER,
            trigger_label=SAMPLE_TRIGGER_LABEL,
            integration_name=integration.name,
            delivery_id=delivery_id,
            events=[event],
            created_at=now,
            is_test=True,
        )

    @classmethod
    def preview(cls, integration, events: list[SecurityEvent] | None = None) -> MessageContext:
        """A notification as a policy would send it, for previews and template checks: ``events`` (stored ones a
        person picked), or two made-up ones — a critical vulnerability in an image and a runtime threat in a pod."""
        now = timezone.now()
        if not events:
            vulnerability = MessageContext.sample(integration, "preview").events[0]
            runtime = SecurityEvent(
                type=EventType.RUNTIME,
                severity=Severity.HIGH,
                source="falco",
                title="Terminal shell in container (sample data)",
                finding_id="Terminal shell in container",
                cluster="prod",
                namespace="shop",
                pod="web-6d9f",
                container="web",
                fingerprint="1" * 64,
                occurred_at=now,
            )
            events = [vulnerability, runtime]
        return cls(
            policy_id=None,
            policy_name="Sample policy",
            trigger=SAMPLE_TRIGGER,
            trigger_label=SAMPLE_TRIGGER_LABEL,
            integration_name=integration.name,
            delivery_id="preview",
            events=events,
            created_at=now,
        )

    def as_dict(self, limit: int) -> dict[str, Any]:
        """Template context listing at most ``limit`` events (worst first): plain data only (see
        :data:`notifications.templating.TEMPLATE_VARIABLES` and ``EVENT_VARIABLES``)."""
        lines = [EventLine.of(event).as_template_dict() for event in self.events[:limit]]
        counter = Counter(event.severity for event in self.events)
        counts = [
            {"severity": s.slug, "label": s.label, "count": counter[s.value]}
            for s in sorted(Severity, reverse=True)
            if counter[s.value]
        ]
        images, more_images = _named([e.image_reference for e in self.events])
        workloads, more_workloads = _named([e.workload_reference for e in self.events])
        worst = Severity(self.events[0].severity) if self.events else Severity.UNKNOWN
        return {
            "policy_id": self.policy_id,
            "policy_name": self.policy_name,
            "trigger": self.trigger,
            "trigger_label": self.trigger_label,
            "integration_name": self.integration_name,
            "delivery_id": self.delivery_id,
            "created_at": self.created_at,
            "is_test": self.is_test,
            "events": lines,
            "total": len(self.events),
            "listed": len(lines),
            "more": len(self.events) - len(lines),
            "counts": counts,
            "worst_severity": worst.slug,
            "worst_severity_label": worst.label,
            "images": images,
            "more_images": more_images,
            "workloads": workloads,
            "more_workloads": more_workloads,
            "base_url": settings.KCS_BASE_URL,
            "detail_url": notification_url(self.notification_id),
        }
