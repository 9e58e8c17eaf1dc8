"""Trivy JSON (``trivy image|fs|repo|sbom -f json``, ``trivy k8s -f json``) → security events.

Accepted shapes: the SchemaVersion 2 report; the pre-v0.20 bare list of results; ``trivy k8s`` reports (legacy
``{ClusterName, Vulnerabilities, Misconfigurations}`` and current ``{ClusterName, Resources}``); and trivy-operator
custom resources (see :mod:`events.adapters.trivy_operator`).

Per result: ``Vulnerabilities[]`` → vulnerability (``Status: not_affected`` skipped: the vendor says the package is
not exploitable), ``Secrets[]`` → sensitive_data, ``Misconfigurations[]`` with ``Status: FAIL`` → misconfiguration
(PASS/EXCEPTION appear only with ``--include-non-failures``), ``Licenses[]`` → non_compliant unless Trivy itself
classifies the license as free to use (notice, permissive, unencumbered).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from events.adapters import trivy_operator
from events.adapters.base import Adapter, Parsed
from events.adapters.event_dicts import compact, make_event
from events.adapters.images import ImageRef, digest_of, looks_like_image_reference, parse_image_reference
from events.adapters.readers import (
    AdapterError,
    cvss_score,
    items,
    number,
    obj,
    objects,
    section,
    severity,
    severity_table,
    text,
)
from events.models import EventType, Severity

SOURCE = "trivy"
# Trivy's severity names → ours (any case); trivy-operator resources carry the same names and use this table too.
# The README shows it.
SEVERITIES = severity_table(
    {
        "CRITICAL": Severity.CRITICAL,
        "HIGH": Severity.HIGH,
        "MEDIUM": Severity.MEDIUM,
        "LOW": Severity.LOW,
        "UNKNOWN": Severity.UNKNOWN,  # Trivy has no "negligible": upstream negligible ratings arrive as LOW or UNKNOWN
    }
)
# Top-level keys only Trivy's own reports have (image/fs/repo/sbom reports, trivy k8s reports).
REPORT_MARKERS = frozenset({"SchemaVersion", "ArtifactName", "Results", "ClusterName"})

# License categories Trivy considers free to use: reporting them as non-compliant would only be noise.
PERMITTED_LICENSE_CATEGORIES = {"notice", "permissive", "unencumbered"}
MAX_REFERENCES = 10  # links kept per finding; Trivy lists dozens for old CVEs

# "alpine:3.10 (alpine 3.10.2)", "docker.io/redis:6.0.5 (debian 10.4)": the OS result of an image.
_OS_TARGET_RE = re.compile(r"^(?P<image>\S+) \([^()]*\)$")


class TrivyAdapter(Adapter):
    name = SOURCE
    label = "Trivy"
    severities = SEVERITIES

    @classmethod
    def looks_like_object(cls, document: dict[str, Any]) -> bool:
        return bool(REPORT_MARKERS & document.keys()) or trivy_operator.looks_like_resource(document)

    def parse(self, payload: Any, hints: Mapping[str, str]) -> Parsed:
        if trivy_operator.is_operator_payload(payload):
            return trivy_operator.parse(payload, hints, self.severities)
        if isinstance(payload, list):
            if payload and all(isinstance(r, dict) and "Target" in r for r in payload):
                # The pre-SchemaVersion-2 output: a bare list of results.
                return _parse_results(payload, "", _Context(hints=hints, images=[_image_from_results(payload)]))
            raise self.wrong_payload("a Trivy JSON report", payload)
        if isinstance(payload, dict) and "ClusterName" in payload:
            return _parse_k8s(payload, hints)
        if isinstance(payload, dict) and ("SchemaVersion" in payload or "Results" in payload):
            return _parse_report(payload, hints)
        raise self.wrong_payload(
            "a Trivy JSON report (trivy image/fs/k8s -f json, or trivy-operator resources)", payload
        )


class _Context:
    """What every finding of one artifact (or Kubernetes resource) shares."""

    def __init__(
        self,
        *,
        hints: Mapping[str, str],
        images: list[ImageRef] = (),
        artifact: str = "",
        artifact_type: str = "",
        scanned_at: str = "",
        cluster: str = "",
        namespace: str = "",
        workload: str = "",
    ):
        self.hints = hints
        self.images = [image for image in images if image]
        self.image = self.images[0] if self.images else ImageRef()  # what findings without their own image get
        self.artifact = artifact
        self.artifact_type = artifact_type
        self.scanned_at = scanned_at
        self.cluster = cluster
        self.namespace = namespace
        self.workload = workload

    def event(self, *, result: Mapping[str, Any], image: ImageRef | None, key: tuple, details: dict, **fields):
        """An event of this context: resource identity, shared details and uid key parts added."""
        image = self.image if image is None else image
        details = compact(
            {
                "artifact": self.artifact,
                "artifact_type": self.artifact_type,
                "workload": self.workload,
                "target": result.get("Target"),
                "class": result.get("Class"),
                "target_type": result.get("Type"),
                **details,
            }
        )
        return make_event(
            source=SOURCE,
            hints=self.hints,
            details=details,
            occurred_at=self.scanned_at or None,
            key=(self.artifact, self.workload, result.get("Target"), self.scanned_at, *key),
            cluster=self.cluster,
            namespace=self.namespace,
            **image.fields(),
            **fields,
        )


def _parse_report(report: dict[str, Any], hints: Mapping[str, str]) -> Parsed:
    """A SchemaVersion 2 report of one artifact."""
    version = report.get("SchemaVersion")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise AdapterError(f"SchemaVersion: expected a number, got {version!r}.", "SchemaVersion")
    artifact = text(report, "ArtifactName", "")
    artifact_type = text(report, "ArtifactType", "")
    metadata = section(report, "Metadata", "")
    results = items(report, "Results", "")  # Trivy omits Results when it found nothing to scan
    image = _image_from_metadata(metadata, "Metadata")
    if not image and artifact_type in ("container_image", "") and looks_like_image_reference(artifact):
        image = parse_image_reference(artifact)
    if not image:
        image = _image_from_results(results)
    context = _Context(
        hints=hints,
        images=[image],
        artifact=artifact,
        artifact_type=artifact_type,
        scanned_at=text(report, "CreatedAt", ""),
    )
    return _parse_results(results, "Results", context)


def _parse_k8s(report: dict[str, Any], hints: Mapping[str, str]) -> Parsed:
    """``trivy k8s -f json``: findings per Kubernetes resource (workload, service, role…) of one cluster."""
    cluster = text(report, "ClusterName", "")
    parsed = Parsed()
    lists = ("Resources", "Vulnerabilities", "Misconfigurations")
    if not any(key in report for key in lists):
        raise AdapterError(
            "A trivy k8s report needs Resources (or Vulnerabilities/Misconfigurations) lists.", "Resources"
        )
    for key in lists:
        for path, resource in objects(report, key, ""):
            kind, name = text(resource, "Kind", path), text(resource, "Name", path)
            # One Metadata object in older releases; a list (one per container image) in newer ones.
            metadata = resource.get("Metadata") or []
            if isinstance(metadata, dict):
                metadata = [metadata]
            elif not isinstance(metadata, list):
                raise AdapterError(f"{path}.Metadata: expected an object or a list.", f"{path}.Metadata")
            images = [
                image
                for image in (
                    _image_from_metadata(obj(m, f"{path}.Metadata[{i}]"), f"{path}.Metadata")
                    for i, m in enumerate(metadata)
                )
                if image
            ]
            context = _Context(
                hints=hints,
                cluster=cluster,
                namespace=text(resource, "Namespace", path),
                workload=f"{kind}/{name}" if kind or name else "",
                images=images or [_image_from_results(items(resource, "Results", path))],
            )
            parsed.extend(_parse_results(items(resource, "Results", path), f"{path}.Results", context))
    return parsed


def _parse_results(results: list[Any], path: str, context: _Context) -> Parsed:
    parsed = Parsed()
    for index, value in enumerate(results):
        where = f"{path}[{index}]" if path else f"[{index}]"
        result = obj(value, where)
        text(result, "Target", where)
        image = _image_of_os_target(result)
        if image:
            # One of the artifact's own images: its metadata also knows the digest.
            image = next(
                (
                    known
                    for known in context.images
                    if (known.registry, known.repository, known.tag) == (image.registry, image.repository, image.tag)
                ),
                image,
            )
        for v_path, vuln in objects(result, "Vulnerabilities", where):
            event = _vulnerability(vuln, v_path, result, image, context)
            if event:
                parsed.items.append(event)
        for s_path, secret in objects(result, "Secrets", where):
            parsed.items.append(_secret(secret, s_path, result, image, context))
        for m_path, misconf in objects(result, "Misconfigurations", where):
            if text(misconf, "Status", m_path).upper() in ("", "FAIL"):
                parsed.items.append(_misconfiguration(misconf, m_path, result, context))
        for l_path, license_ in objects(result, "Licenses", where):
            if text(license_, "Category", l_path).lower() not in PERMITTED_LICENSE_CATEGORIES:
                parsed.items.append(_license(license_, l_path, result, image, context))
    return parsed


def _vulnerability(v: dict, path: str, result: dict, image: ImageRef | None, context: _Context) -> dict | None:
    vuln_id = text(v, "VulnerabilityID", path, required=True)
    status = text(v, "Status", path)
    if status == "not_affected":
        return None
    package, installed = text(v, "PkgName", path), text(v, "InstalledVersion", path)
    title = text(v, "Title", path)
    identifier = v.get("PkgIdentifier") if isinstance(v.get("PkgIdentifier"), dict) else {}
    layer = v.get("Layer") if isinstance(v.get("Layer"), dict) else {}
    data_source = v.get("DataSource") if isinstance(v.get("DataSource"), dict) else {}
    return context.event(
        result=result,
        image=image,
        key=(text(v, "PkgPath", path), text(v, "PkgID", path)),
        type=EventType.VULNERABILITY,
        severity=severity(SEVERITIES, v, "Severity", path),
        title=f"{vuln_id}: {title}" if title else f"{vuln_id} in {package} {installed}",
        description=text(v, "Description", path),
        finding_id=vuln_id,
        package=package,
        installed_version=installed,
        fixed_version=text(v, "FixedVersion", path),
        cvss=_cvss(v, path),
        details={
            "status": status,
            "severity_source": text(v, "SeveritySource", path),
            "primary_url": text(v, "PrimaryURL", path),
            "references": items(v, "References", path)[:MAX_REFERENCES],
            "cwe_ids": items(v, "CweIDs", path),
            "vendor_ids": items(v, "VendorIDs", path),
            "cvss": v.get("CVSS") if isinstance(v.get("CVSS"), dict) else None,
            "pkg_id": text(v, "PkgID", path),
            "pkg_path": text(v, "PkgPath", path),
            "purl": identifier.get("PURL"),
            "layer": layer.get("Digest") or layer.get("DiffID"),
            "data_source": data_source.get("ID"),
            "published": text(v, "PublishedDate", path),
            "last_modified": text(v, "LastModifiedDate", path),
        },
    )


def _cvss(v: dict, path: str) -> float | None:
    """The score of the source Trivy took the severity from, else NVD, else any; v3 before v4 before v2."""
    scores = section(v, "CVSS", path)
    preferred = [v.get("SeveritySource"), "nvd", *scores]
    for source in preferred:
        entry = scores.get(source) if isinstance(source, str) else None
        if isinstance(entry, dict):
            for key in ("V3Score", "V40Score", "V2Score"):
                score = cvss_score(number(entry, key, f"{path}.CVSS.{source}"))
                if score is not None:
                    return score
    return None


def _secret(s: dict, path: str, result: dict, image: ImageRef | None, context: _Context) -> dict:
    rule = text(s, "RuleID", path, required=True)
    target = text(result, "Target", "")
    start, end = number(s, "StartLine", path), number(s, "EndLine", path)
    line = f":{int(start)}" if start else ""
    title = text(s, "Title", path) or rule
    # Code.Lines is left out on purpose: its context lines are not masked and can hold the secret itself.
    return context.event(
        result=result,
        image=image,
        key=(start, end, text(s, "Match", path)),
        type=EventType.SENSITIVE_DATA,
        severity=severity(SEVERITIES, s, "Severity", path),
        title=f"{title} in {target}{line}",
        finding_id=rule,
        details={
            "category": text(s, "Category", path),
            "file": target,
            "start_line": start,
            "end_line": end,
            "match": text(s, "Match", path),
        },
    )


def _misconfiguration(m: dict, path: str, result: dict, context: _Context) -> dict:
    check = text(m, "ID", path) or text(m, "AVDID", path)
    if not check:
        raise AdapterError(f"{path}.ID: this field is required.", f"{path}.ID")
    message, resolution = text(m, "Message", path), text(m, "Resolution", path)
    cause = m.get("CauseMetadata") if isinstance(m.get("CauseMetadata"), dict) else {}
    where = f" ({context.workload or result.get('Target')})" if (context.workload or result.get("Target")) else ""
    return context.event(
        result=result,
        image=ImageRef(),
        key=(message, cause.get("Resource"), cause.get("StartLine")),
        type=EventType.MISCONFIGURATION,
        severity=severity(SEVERITIES, m, "Severity", path),
        title=f"{check}: {text(m, 'Title', path) or message}{where}",
        description="\n\n".join(part for part in (message, text(m, "Description", path)) if part),
        finding_id=check,
        details={
            "avd_id": text(m, "AVDID", path),
            "check_type": text(m, "Type", path),
            "message": message,
            "resolution": resolution,
            "primary_url": text(m, "PrimaryURL", path),
            "references": items(m, "References", path)[:MAX_REFERENCES],
            "cause": compact({k: cause.get(k) for k in ("Resource", "Provider", "Service", "StartLine", "EndLine")}),
        },
    )


def _license(lic: dict, path: str, result: dict, image: ImageRef | None, context: _Context) -> dict:
    name = text(lic, "Name", path, required=True)
    package, file_path = text(lic, "PkgName", path), text(lic, "FilePath", path)
    category = text(lic, "Category", path)
    return context.event(
        result=result,
        image=image,
        key=(file_path,),
        type=EventType.NON_COMPLIANT,
        severity=severity(SEVERITIES, lic, "Severity", path),
        title=f"License {name} ({category or 'unclassified'}) in {package or file_path or result.get('Target')}",
        finding_id=name,
        package=package,
        details={"category": category, "file": file_path, "link": text(lic, "Link", path)},
    )


def _image_from_metadata(metadata: dict[str, Any], path: str) -> ImageRef:
    """The image of ``Metadata.RepoTags``/``RepoDigests`` (either may be missing or hold ``""``)."""
    tags = [t for t in items(metadata, "RepoTags", path) if isinstance(t, str) and t.strip()]
    digests = [d for d in items(metadata, "RepoDigests", path) if isinstance(d, str) and "@" in d]
    if tags:
        image = parse_image_reference(tags[0])
    elif digests:
        image = parse_image_reference(digests[0].partition("@")[0])
    else:
        return ImageRef()
    # Prefer the manifest digest of the same repository: RepoDigests may list several registries.
    same = [d for d in digests if parse_image_reference(d.partition("@")[0]).repository == image.repository]
    digest = digest_of((same or digests or [""])[0])
    return ImageRef(image.registry, image.repository, image.tag, digest)


def _image_of_os_target(result: dict[str, Any]) -> ImageRef | None:
    """The image named by an OS-package result's Target, e.g. ``docker.io/redis:6.0.5 (debian 10.4)``."""
    target = result.get("Target")
    match = _OS_TARGET_RE.match(target) if isinstance(target, str) else None
    if match and looks_like_image_reference(match["image"]):
        return parse_image_reference(match["image"])
    return None


def _image_from_results(results: list[Any]) -> ImageRef:
    for result in results:
        if isinstance(result, dict):
            image = _image_of_os_target(result)
            if image:
                return image
    return ImageRef()
