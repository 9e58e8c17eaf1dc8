"""Harbor webhooks (default and CloudEvents formats) and Harbor vulnerability reports → security events.

``SCANNING_COMPLETED`` carries counts, not CVEs: it becomes one vulnerability event per severity that has
findings ("4 High vulnerabilities in test/alpine/helm:3.8.1"), with the counts, the scanner and a link to the full
report in ``details``. Every other webhook type (SCANNING_FAILED, SCANNING_STOPPED, PUSH_ARTIFACT, …) is
acknowledged and logged, never stored as a finding. A vulnerability report fetched from Harbor's API
(``…/artifacts/{digest}/additions/vulnerabilities``) gives one event per vulnerability; it names no registry or
repository unless its ``artifact`` does, so pass them as query parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from events.adapters.base import Adapter, Parsed
from events.adapters.event_dicts import compact, make_event
from events.adapters.images import ImageRef, image_ref, parse_image_reference
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
    severity_table,
    text,
)
from events.models import EventType, Severity

SOURCE = "harbor"
# Harbor's severity names → ours (any case), for report findings and the per-severity counts of scan webhooks.
# Harbor's own vocabulary (its API's severity enum), written out rather than borrowed from Grype's table: the two
# agree today only by coincidence. The README shows this table.
SEVERITIES = severity_table(
    {
        "Critical": Severity.CRITICAL,
        "High": Severity.HIGH,
        "Medium": Severity.MEDIUM,
        "Low": Severity.LOW,
        "Negligible": Severity.NEGLIGIBLE,
        "Unknown": Severity.UNKNOWN,
        # "None" is the overall severity of a report without vulnerabilities; on a single finding it can only mean
        # "no real risk", never "unknown".
        "None": Severity.NEGLIGIBLE,
    }
)
SCAN_COMPLETED = "SCANNING_COMPLETED"
# CloudEvents type → the same event's type name in the default format.
CLOUDEVENT_TYPES = {
    "harbor.scan.completed": SCAN_COMPLETED,
    "harbor.scan.failed": "SCANNING_FAILED",
    "harbor.scan.stopped": "SCANNING_STOPPED",
    "harbor.artifact.pushed": "PUSH_ARTIFACT",
    "harbor.artifact.pulled": "PULL_ARTIFACT",
    "harbor.artifact.deleted": "DELETE_ARTIFACT",
    "harbor.quota.exceeded": "QUOTA_EXCEED",
    "harbor.quota.warned": "QUOTA_WARNING",
    "harbor.replication.status.changed": "REPLICATION",
    "harbor.tag_retention.finished": "TAG_RETENTION",
}
CLOUDEVENT_TYPE_PREFIX = "harbor."
REPORT_MIME_PREFIX = "application/vnd."


class HarborAdapter(Adapter):
    name = SOURCE
    label = "Harbor"
    severities = SEVERITIES

    @classmethod
    def looks_like_object(cls, document: dict[str, Any]) -> bool:
        # A default-format webhook, a CloudEvents webhook, reports keyed by MIME type, or one report.
        return (
            {"event_data", "type"} <= document.keys()
            or str(document.get("type", "")).startswith(CLOUDEVENT_TYPE_PREFIX)
            or any(str(key).startswith(REPORT_MIME_PREFIX) for key in document)
            or {"scanner", "vulnerabilities"} <= document.keys()
        )

    def parse(self, payload: Any, hints: Mapping[str, str]) -> Parsed:
        if isinstance(payload, dict) and "event_data" in payload:
            return _webhook(text(payload, "type", "", required=True), payload, "event_data", hints)
        if isinstance(payload, dict) and "specversion" in payload:
            kind = text(payload, "type", "", required=True)
            return _webhook(CLOUDEVENT_TYPES.get(kind, kind), payload, "data", hints)
        if isinstance(payload, dict) and payload and all(str(k).startswith(REPORT_MIME_PREFIX) for k in payload):
            parsed = Parsed()
            for mime, report in payload.items():
                parsed.extend(_report(obj(report, mime), mime, hints))
            return parsed
        if isinstance(payload, dict) and "vulnerabilities" in payload and "scanner" in payload:
            return _report(payload, "", hints)
        raise self.wrong_payload(
            "a Harbor webhook payload (default or CloudEvents format) or Harbor vulnerability report", payload
        )


def _occurred(payload: dict[str, Any]) -> str | None:
    """When Harbor saw the event: ``occur_at`` (epoch seconds) or CloudEvents ``time``."""
    if "time" in payload:
        return text(payload, "time", "") or None
    seconds = number(payload, "occur_at", "")
    if not seconds:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).isoformat()
    except (OverflowError, ValueError, OSError):  # 1e20, Infinity, NaN: no date Python can hold
        raise AdapterError(f"occur_at: not a time in Unix seconds: {seconds!r}.", "occur_at") from None


def _webhook(kind: str, payload: dict[str, Any], data_key: str, hints: Mapping[str, str]) -> Parsed:
    data = obj(payload.get(data_key), data_key)
    repository = section(data, "repository", data_key)
    occurred = _occurred(payload)
    parsed = Parsed()
    for path, resource in objects(data, "resources", data_key):
        image = _resource_image(resource, path, repository)
        if kind != SCAN_COMPLETED:
            parsed.ignored.append(f"{kind} for {image or 'an artifact'}: not a finding, acknowledged.")
            continue
        overviews = section(resource, "scan_overview", path)
        for mime, overview in overviews.items():
            parsed.extend(
                _scan_overview(
                    obj(overview, f"{path}.scan_overview.{mime}"),
                    f"{path}.scan_overview",
                    image,
                    repository,
                    payload,
                    occurred,
                    hints,
                )
            )
    if kind != SCAN_COMPLETED and not parsed.ignored:
        parsed.ignored.append(f"{kind}: not a finding, acknowledged.")
    return parsed


def _resource_image(resource: dict, path: str, repository: dict) -> ImageRef:
    """Registry from ``resource_url``; repository from the payload's repository; tag unless it is the digest."""
    url_image = parse_image_reference(text(resource, "resource_url", path))
    name = text(repository, "repo_full_name", "repository") or "/".join(
        part for part in (text(repository, "namespace", "repository"), text(repository, "name", "repository")) if part
    )
    digest = text(resource, "digest", path) or url_image.digest
    tag = text(resource, "tag", path) or url_image.tag
    if tag == digest:
        tag = ""
    return image_ref(url_image.registry, name or url_image.repository, tag, digest)


def _scan_overview(
    overview: dict,
    path: str,
    image: ImageRef,
    repository: dict,
    payload: dict,
    occurred: str | None,
    hints: Mapping[str, str],
) -> Parsed:
    parsed = Parsed()
    status = text(overview, "scan_status", path)
    summary = section(overview, "summary", path)
    counts = section(summary, "summary", f"{path}.summary")
    if status.lower() != "success":
        parsed.ignored.append(f"Scan of {image} ended {status or 'without a status'}: no findings.")
        return parsed
    scanner = name_and_version(overview.get("scanner"))
    totals = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    report_id = text(overview, "report_id", path)
    end_time = text(overview, "end_time", path)
    shared = compact(
        {
            "counts": counts,
            "total": summary.get("total"),
            "fixable": summary.get("fixable"),
            "scanner": scanner,
            "report_id": report_id,
            "scan_status": status,
            "report_url": _report_url(image, repository),
            "project": repository.get("namespace"),
            "operator": payload.get("operator"),
            "start_time": overview.get("start_time"),
            "end_time": end_time,
        }
    )
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise AdapterError(f"{path}.summary.summary.{name}: expected a whole number.", f"{path}.summary.summary")
        slug = SEVERITIES.get(name.lower(), Severity.UNKNOWN.slug)
        if count <= 0 or name.lower() == "none":
            continue
        label = Severity.from_slug(slug).label
        parsed.items.append(
            make_event(
                source=SOURCE,
                hints=hints,
                occurred_at=end_time or occurred,
                key=(report_id, end_time),
                type=EventType.VULNERABILITY,
                severity=slug,
                title=f"{count} {label} {'vulnerability' if count == 1 else 'vulnerabilities'} in {image}",
                description=f"Harbor scanned {image}{f' with {scanner}' if scanner else ''}: {totals} "
                f"({summary.get('total', '?')} in total, {summary.get('fixable', '?')} fixable).",
                finding_id=f"{label} vulnerabilities",
                details={**shared, "count": count},
                **image.fields(),
            )
        )
    return parsed


def _report_url(image: ImageRef, repository: dict) -> str:
    """Harbor's API address of the full report (repository names with / are encoded twice, as Harbor wants)."""
    project, name = repository.get("namespace"), repository.get("name")
    if not (image.registry and image.digest and isinstance(project, str) and isinstance(name, str)):
        return ""
    encoded = quote(quote(name, safe=""), safe="")
    return (
        f"https://{image.registry}/api/v2.0/projects/{quote(project, safe='')}/repositories/{encoded}"
        f"/artifacts/{image.digest}/additions/vulnerabilities"
    )


def _report(report: dict[str, Any], path: str, hints: Mapping[str, str]) -> Parsed:
    """A Harbor (pluggable scanner) vulnerability report: one event per vulnerability."""
    artifact = section(report, "artifact", path)
    generated = text(report, "generated_at", path)
    scanner = name_and_version(report.get("scanner"))
    parsed = Parsed()
    for v_path, vuln in objects(report, "vulnerabilities", path):
        vuln_id = text(vuln, "id", v_path, required=True)
        package, version = text(vuln, "package", v_path), text(vuln, "version", v_path)
        digests = [d for d in items(vuln, "artifact_digests", v_path) if isinstance(d, str)]
        image = ImageRef(
            "",
            str(artifact.get("repository") or ""),
            str(artifact.get("tag") or ""),
            str(artifact.get("digest") or (digests[0] if digests else "")),
        )
        parsed.items.append(
            make_event(
                source=SOURCE,
                hints=hints,
                occurred_at=generated or None,
                key=(generated, *digests),
                type=EventType.VULNERABILITY,
                severity=severity(SEVERITIES, vuln, "severity", v_path),
                title=f"{vuln_id} in {package} {version}".strip(),
                description=text(vuln, "description", v_path),
                finding_id=vuln_id,
                package=package,
                installed_version=version,
                fixed_version=text(vuln, "fix_version", v_path),
                cvss=_cvss(vuln, v_path),
                details={
                    "scanner": scanner,
                    "links": items(vuln, "links", v_path)[:10],
                    "cwe_ids": items(vuln, "cwe_ids", v_path),
                    "artifact_digests": digests,
                    "report_severity": report.get("severity"),
                },
                **image.fields(),
            )
        )
    return parsed


def _cvss(vuln: dict, path: str) -> float | None:
    preferred = section(vuln, "preferred_cvss", path)
    for key in ("score_v3", "score_v2"):
        score = cvss_score(number(preferred, key, f"{path}.preferred_cvss"))
        if score is not None:
            return score
    vendor = vuln.get("vendor_attributes") if isinstance(vuln.get("vendor_attributes"), dict) else {}
    nvd = (vendor.get("CVSS") or {}).get("nvd") if isinstance(vendor.get("CVSS"), dict) else None
    if isinstance(nvd, dict):
        return cvss_score(number(nvd, "V3Score", f"{path}.vendor_attributes.CVSS.nvd"))
    return None
