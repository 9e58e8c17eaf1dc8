"""How a security event log entry reads as a CEF record: signature ID, name, severity and the extension values.

Signature IDs follow the families a container-security SIEM integration uses:

- ``ADM-nnn`` administration: changes to policies, scopes, integrations, tokens… by action: 001 created,
  002 changed, 003 enabled, 004 disabled, 005 deleted, 006 tested, 007 retried, 008 signed in, 009 signed out,
  010 sign-in failed, 011 locked out, 012 sign-in refused, 013 password changed, 014 password reset, 015 revoked,
  016 ingest refused, 099 anything else;
- ``CVE-``, ``MLW-``, ``SD-``, ``MS-nnn``: a risk acceptance of a vulnerability, malware, sensitive data or a
  misconfiguration, and its expiry: 001 accepted, 002 extended (changed), 003 cancelled, 004 expired, 099 else;
  a risk acceptance of any other finding type is administration (``ADM``);
- ``PLC-001``: a response policy's alert (an entry of object type ``alert``, or action ``alert``, or a created
  ``notification``: logged for each notification a policy made).

An event's record (the events stream, a policy's notification) has ``<type>:<finding id>``; an event of type
``risk_acceptance_expired`` whose finding is a CVE (or GHSA) id has ``CVE-004``.

Extension keys: ``suser`` (who), ``src`` (their address), ``fname`` (the object or image concerned),
``flexString1``/``flexString2`` (policy type and policy name, labelled), ``outcome`` (Success/Failure), and
``rt``, ``externalId`` (the entry's id: the same on every redelivery, for the SIEM to drop duplicates), ``cat``,
``act``, ``msg``. The record's text comes from ``templates/messages/syslog/audit.cef``.

What an entry must carry: an alert's policy name and trigger are read from its ``changes`` (``policy_name`` or
``policy``, ``trigger_label`` or ``trigger``, ``image``, ``severity``; a ``[old, new]`` pair counts as its new value)
and otherwise from the notification its ``object_id`` names; a risk acceptance's finding type from ``changes``
(``type``, ``event_type`` or ``finding_type``), its name (``CVE-… (vulnerability) on …``) or its finding id's form
(``CVE-…``); its expiry is action ``expire``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from events.models import EventType, Severity
from kcs.models import AuditAction, AuditEntry

ADM_NUMBERS = {
    AuditAction.CREATE: "001",
    AuditAction.UPDATE: "002",
    AuditAction.ENABLE: "003",
    AuditAction.DISABLE: "004",
    AuditAction.DELETE: "005",
    AuditAction.TEST: "006",
    AuditAction.RETRY: "007",
    "sign_in": "008",
    "sign_out": "009",
    "sign_in_failed": "010",
    "locked_out": "011",
    "sign_in_refused": "012",
    "password_change": "013",
    "password_reset": "014",
    "revoke": "015",
    "ingest_refused": "016",
}
# Administration records that say something was refused or went wrong.
FAILURES = {"sign_in_failed", "locked_out", "sign_in_refused", "ingest_refused"}
ACCEPTANCE_FAMILIES = {
    EventType.VULNERABILITY: "CVE",
    EventType.MALWARE: "MLW",
    EventType.SENSITIVE_DATA: "SD",
    EventType.MISCONFIGURATION: "MS",
}
# Action of a risk acceptance's entry → (number, name). ``accept``, ``extend``, ``cancel``, ``expire`` are what
# events.acceptances logs; the generic create/update/delete read the same.
ACCEPTANCE_RECORDS = {
    "accept": ("001", "Risk accepted"),
    "create": ("001", "Risk accepted"),
    "extend": ("002", "Risk acceptance extended"),
    "update": ("002", "Risk acceptance changed"),
    "cancel": ("003", "Risk acceptance cancelled"),
    "delete": ("003", "Risk acceptance cancelled"),
    "expire": ("004", "Risk acceptance expired"),
}
# An acceptance reads "<finding> (<type>) on <extent>" (events.models.RiskAcceptance.__str__).
_TYPE_IN_NAME = re.compile(r"\((vulnerability|malware|sensitive data|misconfiguration)\)")
ALERT_TYPES = {"alert", "alerts", "policy alert"}
POLICY_TYPES = {"response policy"}
POLICY_TYPE = "Response policy"
# CEF severity (0-10) of administration records: deletes and switching things off matter more than the rest.
ADM_SEVERITY = {AuditAction.DELETE: 5, AuditAction.DISABLE: 5}
_CEF_SEVERITY = {0: 0, 1: 1, 2: 3, 3: 5, 4: 8, 5: 10}  # as event records: unknown=0 … critical=10


@dataclass(frozen=True)
class AlertFacts:
    """What the notification behind an alert entry says, when the entry does not."""

    policy_name: str = ""
    trigger: str = ""
    trigger_label: str = ""
    image: str = ""
    severity: int | None = None  # our severity value (0-5) of its worst event


def new_value(changes: dict[str, Any], *keys: str) -> Any:
    """The first of ``keys`` present in ``changes``; a ``[old, new]`` pair counts as its new value (its old one
    for a deletion, whose new value is empty)."""
    for key in keys:
        if key in changes:
            value = changes[key]
            if isinstance(value, list) and len(value) == 2:
                value = value[1] if value[1] not in (None, "") else value[0]
            if value not in (None, ""):
                return value
    return None


def is_alert(entry: AuditEntry) -> bool:
    kind = entry.object_type.lower()
    return (
        kind in ALERT_TYPES
        or entry.action == "alert"
        or (kind == "notification" and entry.action == AuditAction.CREATE)
    )


def family_of_finding(finding_id: str) -> str | None:
    """The risk-acceptance family a finding id names by its form (``CVE-…``, ``GHSA-…``: a vulnerability)."""
    upper = (finding_id or "").upper()
    return "CVE" if upper.startswith(("CVE-", "GHSA-")) else None


def event_signature(event_type: str, finding_id: str) -> str:
    """The signature ID of an event's record: ``<type>:<finding>``, but a risk acceptance that expired joins its
    family (``CVE-004``…) when its finding says which."""
    if event_type == EventType.RISK_ACCEPTANCE_EXPIRED:
        family = family_of_finding(finding_id)
        if family is not None:
            return f"{family}-004"
    return f"{event_type}:{finding_id or event_type}"


def _acceptance_family(entry: AuditEntry) -> str | None:
    if "acceptance" not in entry.object_type.lower():
        return None
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    kind = new_value(changes, "type", "event_type", "finding_type")
    if kind in ACCEPTANCE_FAMILIES:
        return ACCEPTANCE_FAMILIES[kind]
    named = _TYPE_IN_NAME.search(entry.object_repr)
    if named:
        return ACCEPTANCE_FAMILIES[named.group(1).replace(" ", "_")]
    return family_of_finding(str(new_value(changes, "finding_id") or "")) or family_of_finding(entry.object_repr)


def _severity_slug_value(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    for severity in Severity:
        if str(value).lower() == severity.slug:
            return int(severity)
    return None


def record_fields(entry: AuditEntry, alert: AlertFacts | None = None) -> dict[str, Any]:
    """The template context of ``entry``'s CEF record (``alert``: facts of the notification behind an alert)."""
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    action = str(entry.action)
    try:
        action_label = AuditAction(action).label
    except ValueError:
        action_label = action.replace("_", " ").capitalize()
    outcome = "Success"
    if (action == AuditAction.TEST and new_value(changes, "last_test_ok") is False) or action in FAILURES:
        outcome = "Failure"
    fields: dict[str, Any] = {
        "entry": entry,
        "action": action,
        "action_label": action_label,
        "suser": entry.actor_name,
        "src": entry.ip_address or "",
        "fname": entry.object_repr,
        "policy_type": "",
        "policy_name": "",
        "trigger": "",
        "changed": sorted(changes) if action == AuditAction.UPDATE else [],
        "outcome": outcome,
        "rt": int(entry.timestamp.timestamp() * 1000),
    }
    family = _acceptance_family(entry)
    if is_alert(entry):
        alert = alert or AlertFacts()
        severity = _severity_slug_value(new_value(changes, "severity", "worst_severity"))
        if severity is None:
            severity = alert.severity
        fields.update(
            signature="PLC-001",
            name="Policy alert",
            category="Policies",
            severity=_CEF_SEVERITY.get(severity, 7) if severity is not None else 7,
            policy_type=POLICY_TYPE,
            policy_name=new_value(changes, "policy_name", "policy") or alert.policy_name,
            trigger=new_value(changes, "trigger_label", "trigger") or alert.trigger_label or alert.trigger,
            fname=new_value(changes, "image") or alert.image or entry.object_repr,
        )
        if not isinstance(fields["policy_name"], str):  # "policy" given as an id
            fields["policy_name"] = alert.policy_name or str(fields["policy_name"])
    elif family is not None:
        number, name = ACCEPTANCE_RECORDS.get(action, ("099", f"Risk acceptance {action_label.lower()}"))
        fields.update(
            signature=f"{family}-{number}",
            name=name,
            category="Risk acceptance",
            severity={"001": 5, "004": 6}.get(number, 3),
            fname=new_value(changes, "image", "artifact", "repository") or entry.object_repr,
        )
    else:
        fields.update(
            signature=f"ADM-{ADM_NUMBERS.get(action, '099')}",
            name=f"{entry.object_type.capitalize()} {action_label.lower()}",
            category="Administration",
            severity=8 if action == "locked_out" else 6 if outcome == "Failure" else ADM_SEVERITY.get(action, 3),
        )
        if entry.object_type.lower() in POLICY_TYPES:
            fields.update(policy_type=POLICY_TYPE, policy_name=entry.object_repr)
    return fields


def syslog_severity(cef_severity: int) -> int:
    """The syslog severity of a record from its CEF severity: notice, warning, error or critical."""
    if cef_severity <= 3:
        return 5
    if cef_severity <= 6:
        return 4
    if cef_severity <= 8:
        return 3
    return 2
