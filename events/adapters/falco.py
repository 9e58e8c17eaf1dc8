"""Falco alerts (``json_output: true``; http_output or Falcosidekick's webhook) → runtime events.

The body is one alert, a JSON list of alerts, or JSON lines (one alert per line, as in ``alerts.jsonl``).
Severity comes from the priority, Falco's 8 levels onto our 6: Emergency, Alert, Critical → critical; Error →
high; Warning → medium; Notice → low; Informational (Info), Debug → negligible; missing or other → unknown.
The finding id is the rule; the resource comes from ``output_fields`` (``k8s.ns.name``, ``k8s.pod.name``,
``container.*``; ``ka.target.*`` for Kubernetes audit rules) and the node is the alert's ``hostname``.
``Falco internal: …`` rules report on Falco's own health (dropped syscalls, metrics): acknowledged, not stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from events.adapters.base import Adapter, Parsed
from events.adapters.event_dicts import make_event
from events.adapters.images import ImageRef, image_ref, parse_image_reference
from events.adapters.readers import (
    AdapterError,
    check_text,
    decode_json,
    items,
    section,
    severity,
    severity_table,
    text,
    text_of,
)
from events.models import EventType, Severity
from events.validation import parse_datetime
from kcs import bounds

SOURCE = "falco"
# Falco's priorities → ours (any case). Falco has 8 priorities for our 6 levels: the top three collapse into
# critical; Error→high, Warning→medium and Notice→low follow the rule defaults; Informational and Debug are
# noise-level (the module docstring, shown in the API docs, says the same). The README shows this table.
SEVERITIES = severity_table(
    {
        "Emergency": Severity.CRITICAL,
        "Alert": Severity.CRITICAL,
        "Critical": Severity.CRITICAL,
        "Error": Severity.HIGH,
        "Warning": Severity.MEDIUM,
        "Notice": Severity.LOW,
        "Informational": Severity.NEGLIGIBLE,
        "Info": Severity.NEGLIGIBLE,
        "Debug": Severity.NEGLIGIBLE,
    }
)
INTERNAL_RULE_PREFIX = "Falco internal:"
# Fields a deployment may add with append_output or Falcosidekick customfields to name its cluster.
CLUSTER_FIELDS = ("k8s.cluster.name", "cluster", "cluster_name", "k8s_cluster")
MISSING = {"", "<NA>", "N/A"}  # how Falco writes "no value"


class FalcoAdapter(Adapter):
    name = SOURCE
    label = "Falco"
    severities = SEVERITIES

    @classmethod
    def looks_like_object(cls, document: dict[str, Any]) -> bool:
        # A json_output alert: a rule beside its priority or its output text.
        return "rule" in document and ("priority" in document or "output" in document)

    def decode(self, body: bytes) -> Any:
        """One JSON value, or JSON lines (each non-empty line one alert) returned as a list."""
        source = text_of(body)
        lines = [line for line in source.splitlines() if line.strip()]
        if len(lines) <= 1:
            return decode_json(body, self.label)
        try:
            document = bounds.loads(source)
        except json.JSONDecodeError:
            pass  # several lines that are not one JSON document: JSON lines
        except bounds.JSONTooDeep as exc:
            raise AdapterError(exc.message, exc.path) from None
        else:
            check_text(source, document)
            return document
        alerts = []
        for number, line in enumerate(source.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                alert = bounds.loads(line)
            except json.JSONDecodeError as exc:
                raise AdapterError(f"Line {number} is not JSON: {exc.msg} (column {exc.colno}).") from None
            except bounds.JSONTooDeep as exc:
                raise AdapterError(f"Line {number}: {exc.message}") from None
            check_text(line, alert, f"[{len(alerts)}]")
            alerts.append(alert)
        return alerts

    def parse(self, payload: Any, hints: Mapping[str, str]) -> Parsed:
        alerts = payload if isinstance(payload, list) else [payload]
        if not alerts:
            raise AdapterError("The list holds no Falco alert.")
        parsed = Parsed()
        for index, alert in enumerate(alerts):
            path = f"[{index}]" if isinstance(payload, list) else ""
            if not (isinstance(alert, dict) and "rule" in alert):
                if not path:
                    raise self.wrong_payload(
                        "a Falco alert (json_output: rule, priority, output, output_fields)", alert
                    )
                raise AdapterError(f"{path}: not a Falco alert (it has no rule).", path)
            rule = text(alert, "rule", path, required=True)
            if rule.startswith(INTERNAL_RULE_PREFIX):
                parsed.ignored.append(f"{rule}: Falco's report on its own health, not a threat.")
                continue
            parsed.items.append(_alert(alert, path, rule, hints))
        return parsed


def _field(fields: Mapping[str, Any], *names: str) -> str:
    """The first present value among ``names`` as text (Falco sends strings, numbers, null and "<NA>")."""
    for name in names:
        value = fields.get(name)
        if value is None or isinstance(value, (dict, list)):
            continue
        value = str(value).strip()
        if value not in MISSING:
            return value
    return ""


def _alert(alert: dict[str, Any], path: str, rule: str, hints: Mapping[str, str]) -> dict[str, Any]:
    fields = section(alert, "output_fields", path)
    time = text(alert, "time", path)
    if time and parse_datetime(time) is None:
        where = f"{path}.time" if path else "time"
        raise AdapterError(f"{where}: not an RFC 3339 time: {time!r}.", where)
    output = text(alert, "output", path)
    hostname = text(alert, "hostname", path)
    audit_pod = _field(fields, "ka.target.resource") == "pods"
    container_id = _field(fields, "container.id")
    in_container = container_id != "host"  # "host": it happened on the node itself, outside any container
    return make_event(
        source=SOURCE,
        hints=hints,
        occurred_at=time or None,
        # A Falco alert has no id before Falcosidekick's uuid: time (ns), host, rule and text tell alerts apart.
        key=(text(alert, "uuid", path), time, hostname, output),
        type=EventType.RUNTIME,
        severity=severity(SEVERITIES, alert, "priority", path),
        title=rule,
        description=output,
        finding_id=rule,
        cluster=_field(fields, *CLUSTER_FIELDS),
        namespace=_field(fields, "k8s.ns.name", "ka.target.namespace"),
        pod=_field(fields, "k8s.pod.name") or (_field(fields, "ka.target.name") if audit_pod else ""),
        container=(_field(fields, "container.name") or container_id) if in_container else "",
        node=hostname,
        **_image(fields).fields(),
        details={
            "priority": alert.get("priority"),
            "falco_source": alert.get("source"),
            "tags": [t for t in items(alert, "tags", path) if isinstance(t, str)],
            "hostname": hostname,
            "uuid": alert.get("uuid"),
            "container_id": container_id if in_container else "",
            "output_fields": fields,
        },
    )


def _image(fields: Mapping[str, Any]) -> ImageRef:
    repository = _field(fields, "container.image.repository")
    if not repository:
        return ImageRef()
    image = parse_image_reference(repository)
    return image_ref(
        image.registry,
        image.repository,
        _field(fields, "container.image.tag") or image.tag,
        _field(fields, "container.image.digest") or image.digest,
    )
