"""trivy-operator custom resources (``kubectl get vulnerabilityreports -A -o json`` …) → security events.

Accepted: one resource, a ``kind: List`` (``items``), a bare JSON array, or a dict keyed by CRD plural name
(``vulnerabilityreports.aquasecurity.github.io: [...]``). VulnerabilityReport / ClusterVulnerabilityReport →
vulnerability; ExposedSecretReport → sensitive_data; ConfigAudit / RbacAssessment / InfraAssessment reports (and
their Cluster* variants) → misconfiguration for each check with ``success: false``; ClusterComplianceReport →
non_compliant for each control that fails. SBOM reports hold no findings and are acknowledged.

The resources carry no cluster name: pass it as ``?cluster=…`` (API) or ``--cluster`` (manage.py ingest).
Severities are Trivy's names, read with the Trivy adapter's table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.adapters.base import Parsed
from events.adapters.event_dicts import compact, make_event
from events.adapters.images import ImageRef, image_ref
from events.adapters.readers import (
    AdapterError,
    cvss_score,
    items,
    name_and_version,
    number,
    obj,
    objects,
    section,
    severity,
    text,
)
from events.models import EventType
from events.validation import parse_datetime

SOURCE = "trivy"
API_GROUP = "aquasecurity.github.io"
VULNERABILITY_KINDS = {"VulnerabilityReport", "ClusterVulnerabilityReport"}
SECRET_KINDS = {"ExposedSecretReport"}
CHECK_KINDS = {
    "ConfigAuditReport",
    "ClusterConfigAuditReport",
    "RbacAssessmentReport",
    "ClusterRbacAssessmentReport",
    "InfraAssessmentReport",
    "ClusterInfraAssessmentReport",
}
COMPLIANCE_KINDS = {"ClusterComplianceReport"}
NO_FINDING_KINDS = {"SbomReport", "ClusterSbomReport"}


def _is_resource(value: Any) -> bool:
    return isinstance(value, dict) and str(value.get("apiVersion", "")).split("/")[0] == API_GROUP


def looks_like_resource(document: dict[str, Any]) -> bool:
    """For wrong-tool hints: an object naming the operator's API group in ``apiVersion`` or in a key.

    Looser than :func:`is_operator_payload` (one key of a dict of CRD lists is enough): it only has to tell Trivy
    apart from the other tools, not to be parsed.
    """
    api_version = document.get("apiVersion")
    return (isinstance(api_version, str) and api_version.startswith(API_GROUP)) or any(
        str(key).endswith(f".{API_GROUP}") for key in document
    )


def is_operator_payload(payload: Any) -> bool:
    """True for trivy-operator resources in any of the accepted wrappings."""
    if isinstance(payload, list):
        return bool(payload) and all(_is_resource(item) for item in payload)
    if not isinstance(payload, dict):
        return False
    if _is_resource(payload) or (payload.get("kind") == "List" and any(map(_is_resource, payload.get("items") or []))):
        return True
    return bool(payload) and all(str(key).endswith(f".{API_GROUP}") for key in payload)


def _resources(payload: Any):
    """``(path, resource)`` for every resource in the payload, whatever the wrapping."""
    if isinstance(payload, list):
        for index, value in enumerate(payload):
            yield f"[{index}]", obj(value, f"[{index}]")
    elif "apiVersion" in payload and payload.get("kind") != "List":
        yield "", payload
    elif "items" in payload:
        yield from objects(payload, "items", "")
    else:
        for key, value in payload.items():
            # kubectl output per CRD: a list, or a List object with items.
            if isinstance(value, dict):
                yield from objects(value, "items", key)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    yield f"{key}[{index}]", obj(item, f"{key}[{index}]")
            else:
                raise AdapterError(f"{key}: expected a list of resources.", key)


def parse(payload: Any, hints: Mapping[str, str], severities: Mapping[str, str]) -> Parsed:
    """Events in trivy-operator resources; ``severities`` is the Trivy adapter's table (the operator runs Trivy,
    and its reports use Trivy's severity names), passed in because that module imports this one.
    """
    parsed = Parsed()
    for path, resource in _resources(payload):
        kind = text(resource, "kind", path, required=True)
        name = text(section(resource, "metadata", path), "name", f"{path}.metadata" if path else "metadata")
        if kind in NO_FINDING_KINDS:
            parsed.ignored.append(f"{kind} {name}: an SBOM holds no findings.")
            continue
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise AdapterError(
                f"{path}.kind: {kind!r} is not a trivy-operator report kind this adapter reads.", f"{path}.kind"
            )
        parsed.items.extend(handler(_Report(resource, path, hints, severities)))
    return parsed


class _Report:
    """One custom resource: its identity (namespace, workload, container, image) and scan time."""

    def __init__(self, resource: dict[str, Any], path: str, hints: Mapping[str, str], severities: Mapping[str, str]):
        self.path = path
        self.hints = hints
        self.severities = severities
        self.kind = resource["kind"]
        self.metadata = section(resource, "metadata", path)
        self.name = text(self.metadata, "name", self.at("metadata"))
        labels = self.metadata.get("labels") if isinstance(self.metadata.get("labels"), dict) else {}
        self.namespace = text(self.metadata, "namespace", self.at("metadata")) or str(
            labels.get("trivy-operator.resource.namespace") or ""
        )
        kind, owner = labels.get("trivy-operator.resource.kind"), labels.get("trivy-operator.resource.name")
        self.workload = f"{kind}/{owner}" if kind and owner else ""
        self.container = str(labels.get("trivy-operator.container.name") or "")
        self.spec = section(resource, "spec", path)
        self.status = section(resource, "status", path)
        self.report = section(resource, "report", path)
        self.report_path = self.at("report")
        self.scanner = name_and_version(self.report.get("scanner"))
        stamp = self.report.get("updateTimestamp") or self.status.get("updateTimestamp")
        stamp = stamp or self.metadata.get("creationTimestamp")
        # Kept as sent for the uid; used as occurred_at only when it is a real date (samples hold "2021-1-1T…").
        self.scanned_at = stamp if isinstance(stamp, str) else ""
        self.occurred_at = self.scanned_at if parse_datetime(self.scanned_at) else None

    def at(self, *parts: str) -> str:
        """The path of a part of this resource, for error messages."""
        return ".".join(part for part in (self.path, *parts) if part)

    def image(self) -> ImageRef:
        registry = self.report.get("registry") if isinstance(self.report.get("registry"), dict) else {}
        artifact = self.report.get("artifact") if isinstance(self.report.get("artifact"), dict) else {}
        if not artifact.get("repository"):
            return ImageRef()
        return image_ref(
            str(registry.get("server") or ""),
            str(artifact["repository"]),
            str(artifact.get("tag") or ""),
            str(artifact.get("digest") or ""),
        )

    def event(self, *, key: tuple, details: dict, image: ImageRef = ImageRef(), **fields) -> dict:
        details = compact(
            {"report": f"{self.kind}/{self.name}", "workload": self.workload, "scanner": self.scanner, **details}
        )
        return make_event(
            source=SOURCE,
            hints=self.hints,
            details=details,
            occurred_at=self.occurred_at,
            key=(self.kind, self.name, self.scanned_at, *key),
            namespace=self.namespace,
            container=self.container,
            **image.fields(),
            **fields,
        )

    def where(self) -> str:
        return f" ({self.workload})" if self.workload else ""


def _vulnerabilities(report: _Report) -> list[dict]:
    image = report.image()
    events = []
    for path, v in objects(report.report, "vulnerabilities", report.report_path):
        vuln_id = text(v, "vulnerabilityID", path, required=True)
        package, installed = text(v, "resource", path), text(v, "installedVersion", path)
        title = text(v, "title", path)
        events.append(
            report.event(
                image=image,
                key=(text(v, "target", path), text(v, "pkgPath", path)),
                type=EventType.VULNERABILITY,
                severity=severity(report.severities, v, "severity", path),
                title=f"{vuln_id}: {title}" if title else f"{vuln_id} in {package} {installed}",
                description=text(v, "description", path),
                finding_id=vuln_id,
                package=package,
                installed_version=installed,
                fixed_version=text(v, "fixedVersion", path),
                cvss=cvss_score(number(v, "score", path)),
                details={
                    "primary_url": text(v, "primaryLink", path),
                    "links": items(v, "links", path)[:10],
                    "target": text(v, "target", path),
                },
            )
        )
    return events


def _secrets(report: _Report) -> list[dict]:
    image = report.image()
    events = []
    for path, s in objects(report.report, "secrets", report.report_path):
        rule = text(s, "ruleID", path, required=True)
        target = text(s, "target", path)
        events.append(
            report.event(
                image=image,
                key=(target, text(s, "match", path)),
                type=EventType.SENSITIVE_DATA,
                severity=severity(report.severities, s, "severity", path),
                title=f"{text(s, 'title', path) or rule} in {target or image}",
                finding_id=rule,
                details={"category": text(s, "category", path), "file": target, "match": text(s, "match", path)},
            )
        )
    return events


def _checks(report: _Report) -> list[dict]:
    events = []
    for path, check in objects(report.report, "checks", report.report_path):
        if check.get("success") is not False:
            continue
        check_id = text(check, "checkID", path, required=True)
        messages = [m for m in items(check, "messages", path) if isinstance(m, str)]
        events.append(
            report.event(
                key=tuple(messages),
                type=EventType.MISCONFIGURATION,
                severity=severity(report.severities, check, "severity", path),
                title=f"{check_id}: {text(check, 'title', path) or check_id}{report.where()}",
                description="\n\n".join([*messages, text(check, "description", path)]),
                finding_id=check_id,
                details={
                    "category": text(check, "category", path),
                    "messages": messages,
                    "remediation": text(check, "remediation", path),
                },
            )
        )
    return events


def _compliance(report: _Report) -> list[dict]:
    """One non_compliant event per failing control (``reportType: summary`` or ``all``)."""
    compliance = section(report.spec, "compliance", report.at("spec"))
    title = text(compliance, "title", report.at("spec", "compliance")) or report.name
    failing: list[tuple[str, dict, int]] = []
    summary = section(report.status, "summaryReport", report.at("status"))
    for path, control in objects(summary, "controlCheck", report.at("status", "summaryReport")):
        failed = int(number(control, "totalFail", path) or 0)
        if failed:
            failing.append((path, control, failed))
    detail = section(report.status, "detailReport", report.at("status"))
    for path, control in objects(detail, "results", report.at("status", "detailReport")):
        failed = sum(1 for c in items(control, "checks", path) if isinstance(c, dict) and c.get("success") is False)
        if failed:
            failing.append((path, control, failed))
    events = []
    for path, control, failed in failing:
        control_id = text(control, "id", path, required=True)
        events.append(
            report.event(
                key=(control_id,),
                type=EventType.NON_COMPLIANT,
                severity=severity(report.severities, control, "severity", path),
                title=f"{title}: {control_id} {text(control, 'name', path)}",
                finding_id=control_id,
                details={
                    "compliance": compact(
                        {"id": compliance.get("id"), "title": title, "version": compliance.get("version")}
                    ),
                    "failed": failed,
                },
            )
        )
    return events


_HANDLERS = {
    **{kind: _vulnerabilities for kind in VULNERABILITY_KINDS},
    **{kind: _secrets for kind in SECRET_KINDS},
    **{kind: _checks for kind in CHECK_KINDS},
    **{kind: _compliance for kind in COMPLIANCE_KINDS},
}
