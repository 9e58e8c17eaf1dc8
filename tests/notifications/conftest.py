"""Fixtures for the notification tests: outputs, policies, stored event batches and a fake of the HTTP helper."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.utils import timezone

from events.models import EventBatch, EventType, SecurityEvent, Severity
from events.services import fingerprint
from notifications.models import NotificationIntegration
from notifications.secrets import encrypt
from policies.models import NotificationMethod, ResponsePolicy, Scope, Trigger

HMAC_SECRET = "s3cret-hmac-key"


def make_integration(
    kind: str, name: str | None = None, *, config: dict | None = None, secrets: dict | None = None, enabled: bool = True
) -> NotificationIntegration:
    defaults = {
        "webhook": ({"url": "https://hooks.example.com/kcs", "auth": "hmac"}, {"hmac_secret": HMAC_SECRET}),
        "telegram": (
            {"chat_id": "-1001234567890", "api_base_url": "https://api.telegram.org"},
            {"bot_token": "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ"},
        ),
        "slack": ({}, {"webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX"}),
        "teams": ({}, {"webhook_url": "https://example.webhook.office.com/workflows/abc"}),
        "email": ({"recipients": ["soc@example.com"], "sender": "KCS <kcs@example.com>", "smtp": None}, {}),
        "syslog": ({"host": "siem.example.com", "port": 514, "protocol": "udp"}, {}),
    }[kind]
    return NotificationIntegration.objects.create(
        name=name or f"{kind} output {NotificationIntegration.objects.count() + 1}",
        kind=kind,
        enabled=enabled,
        config=config if config is not None else defaults[0],
        secrets_encrypted=encrypt(secrets if secrets is not None else defaults[1]),
    )


def global_scope() -> Scope:
    scope, _ = Scope.objects.get_or_create(is_global=True, defaults={"name": "Global"})
    return scope


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
    policy = ResponsePolicy.objects.create(
        name=name, trigger=trigger, min_severity=min_severity, repeat_interval=repeat_interval, enabled=enabled
    )
    policy.scopes.set(scopes or [global_scope()])
    for position, integration in enumerate(integrations):
        NotificationMethod.objects.create(policy=policy, integration=integration, position=position)
    return policy


def event_fields(index: int = 0, **overrides) -> dict[str, Any]:
    fields = {
        "type": EventType.VULNERABILITY,
        "severity": Severity.CRITICAL,
        "source": "trivy",
        "title": f"openssl: buffer overflow #{index}",
        "finding_id": f"CVE-2024-{1000 + index}",
        "package": "openssl",
        "installed_version": "3.0.1",
        "fixed_version": "3.0.7",
        "cvss": 9.1,
        "registry": "registry.example.com",
        "repository": "shop/web",
        "tag": "1.4.2",
        "digest": "sha256:" + "ab" * 32,
        "occurred_at": timezone.now() - timedelta(minutes=5),
    }
    fields.update(overrides)
    return fields


def make_batch(count: int = 1, *, received_at=None, **overrides) -> EventBatch:
    """A stored batch of ``count`` events (not evaluated), as the ingest service leaves it."""
    received_at = received_at or timezone.now()
    batch = EventBatch.objects.create(source="trivy", received=count, created=count, received_at=received_at)
    events = []
    for index in range(count):
        data = event_fields(index, **overrides)
        data["fingerprint"] = fingerprint(data)
        events.append(SecurityEvent(batch=batch, received_at=received_at, **data))
    SecurityEvent.objects.bulk_create(events)
    return batch


def response(status: int = 200, body: Any = "ok", headers: dict | None = None) -> requests.Response:
    result = requests.Response()
    result.status_code = status
    result._content = (
        (json.dumps(body) if not isinstance(body, (str, bytes)) else body).encode()
        if not isinstance(body, bytes)
        else body
    )
    result.headers.update(headers or {})
    return result


@dataclass
class FakeHttp:
    """Stands in for :func:`notifications.channels.http.request`: records calls, answers from a queue."""

    answers: list[Any] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, method, url, *, json=None, data=None, headers=None, auth=None):
        self.calls.append(
            {"method": method, "url": url, "json": json, "data": data, "headers": headers or {}, "auth": auth}
        )
        answer = self.answers.pop(0) if self.answers else response()
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def last(self) -> dict[str, Any]:
        return self.calls[-1]

    def body(self, index: int = -1) -> Any:
        call = self.calls[index]
        return call["json"] if call["json"] is not None else json.loads(call["data"])


@pytest.fixture
def fake_http(monkeypatch) -> FakeHttp:
    fake = FakeHttp()
    monkeypatch.setattr("notifications.channels.http.request", fake)
    return fake


@pytest.fixture
def allow_private(settings):
    settings.KCS_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture
def deny_private(settings):
    settings.KCS_ALLOW_PRIVATE_DESTINATIONS = False


@pytest.fixture(autouse=True)
def fresh_policy_index(monkeypatch):
    """Each test starts without a compiled index: the revision counter is rolled back with the test's
    transaction, so the next test may reach the same number with different policies."""
    monkeypatch.setattr("policies.index_cache._cached", None)
