"""Test helpers that store nothing: HTTP answers and a fake of the one HTTP helper, the matching engine's inputs,
polling, CEF parsing and a browser sign-in. (What is stored is built in tests/factories.py.)"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from events.models import EventType, SecurityEvent, Severity
from notifications.channels import Delivery, channel_for
from notifications.messages import MessageContext
from policies.engine import CompiledPolicy, CompiledScope
from policies.models import Trigger


# --- outbound HTTP ------------------------------------------------------------------------------------------------
def response(status: int = 200, body: Any = "ok", headers: dict | None = None) -> requests.Response:
    """A ``requests`` response as a receiver would answer: ``body`` as text, bytes or JSON."""
    result = requests.Response()
    result.status_code = status
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    result._content = body.encode() if isinstance(body, str) else body
    result.headers.update(headers or {})
    return result


@dataclass
class FakeHttp:
    """Stands in for :func:`notifications.channels.http.request`: records calls, answers from a queue (then 200)."""

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


# --- the matching engine's inputs (pure: nothing stored) ----------------------------------------------------------
GLOBAL = CompiledScope.build(1, "Global", True, {})


def compiled(id=10, trigger=Trigger.MALWARE, min_severity=None, scopes=(1,), integrations=(100,)) -> CompiledPolicy:
    """A compiled policy as the engine's index holds it (scope 1 is :data:`GLOBAL`)."""
    return CompiledPolicy(
        id=id,
        name=f"policy {id}",
        trigger=trigger,
        min_severity=min_severity,
        repeat_interval=0,
        integration_ids=tuple(integrations),
        scope_ids=tuple(scopes),
    )


def scope(id=2, **patterns) -> CompiledScope:
    """A compiled scope with glob patterns, e.g. ``scope(clusters=["prod-*"])``."""
    return CompiledScope.build(id, f"scope {id}", False, patterns)


def event(type=EventType.MALWARE, severity=Severity.HIGH, **resource) -> SecurityEvent:
    """An unsaved event with the given resource fields (the others blank)."""
    fields = {"cluster": "", "namespace": "", "registry": "", "repository": ""} | resource
    return SecurityEvent(type=type, severity=severity, title="finding", **fields)


# --- loopback, waiting, parsing, signing in ---------------------------------------------------------------------------------
def free_port() -> int:
    """A loopback TCP port nothing listens on (until someone binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def row_free_while_change_waits(change: Callable[[], Any], model, pk: int) -> bool:
    """Run ``change`` (a configuration change) in a thread while this test holds the configuration revision lock
    (PostgreSQL, transactional test); once it waits, tell whether ``model``'s row ``pk`` can still be share-locked,
    as a concurrent policy change inserting a reference to it does. False means the change locked that row before
    the revision row: two such changes at once can deadlock. ``change`` must not raise."""
    from django.db import OperationalError, connection, connections, transaction

    from kcs.revisions import lock_revision

    failures: list[BaseException] = []

    def run() -> None:
        try:
            change()
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    with transaction.atomic():
        lock_revision()
        worker.start()
        wait_for(lambda: _backends_waiting_for_a_lock() or not worker.is_alive(), 10, what="the change to wait")
        assert worker.is_alive(), f"the change did not wait for the revision lock ({failures or 'no error'})"
        table = connection.ops.quote_name(model._meta.db_table)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE NOWAIT", [pk])
            free = True
        except OperationalError:  # LockNotAvailable: the change holds it
            free = False
    worker.join(10)
    assert not failures, failures
    return free


def _backends_waiting_for_a_lock() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first reading again
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


CEF = re.compile(
    r"CEF:0\|(?P<vendor>[^|]*)\|(?P<product>[^|]*)\|(?P<version>[^|]*)\|(?P<signature>(?:\\\||[^|])*)"
    r"\|(?P<name>(?:\\\||[^|])*)\|(?P<severity>\d+)\|(?P<extension>.*)$"
)


def parse_cef(line: str) -> dict:
    """A CEF record's header fields and extension (``key=value`` pairs; values may hold escaped ``=``)."""
    match = CEF.search(line)
    assert match, line
    fields = match.groupdict()
    keys = list(re.finditer(r"(?:^| )([A-Za-z0-9]+)=", fields["extension"]))
    extension = {}
    for index, key in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(fields["extension"])
        extension[key.group(1)] = fields["extension"][key.end() : end].replace("\\=", "=").replace("\\\\", "\\")
    fields["extension"] = extension
    return fields


def login(page, username: str, password: str) -> None:
    """Sign in through the login form (a Playwright page)."""
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def context_for(batch, policy_name="Prod critical", integration_name="out") -> MessageContext:
    return MessageContext(
        policy_id=7,
        policy_name=policy_name,
        trigger="critical_vulnerabilities",
        integration_name=integration_name,
        delivery_id="d-123",
        events=list(batch.events.all()),
        notification_id=42,
    )


def send(integration, batch, key="d-123", timestamp=1_700_000_000):
    channel = channel_for(integration)
    message = channel.render(context_for(batch, integration_name=integration.name))
    channel.send(message, Delivery(key=key, timestamp=timestamp))
    return message
