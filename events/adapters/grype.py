"""Grype JSON (``grype <image> -o json``) → one vulnerability event per match.

The same CVE matching two packages (libc-bin and libc6) is two events: the uid includes the package, its
version and location. Grype's own duplicate matches (same vulnerability, package and location) share a uid, so the
ingest service counts them as duplicates instead of storing them twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.adapters.base import Adapter, Parsed
from events.adapters.event_dicts import compact, make_event
from events.adapters.images import ImageRef, digest_of, looks_like_image_reference, parse_image_reference
from events.adapters.readers import (
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

SOURCE = "grype"
MAX_URLS = 10
# Grype's severity names → ours (any case). The README shows this table.
SEVERITIES = severity_table(
    {
        "Critical": Severity.CRITICAL,
        "High": Severity.HIGH,
        "Medium": Severity.MEDIUM,
        "Low": Severity.LOW,
        "Negligible": Severity.NEGLIGIBLE,
        "Unknown": Severity.UNKNOWN,
    }
)
# Beside "matches", the keys of grype -o json's document: the scanned source, grype's descriptor, the distro.
DOCUMENT_KEYS = frozenset({"source", "descriptor", "distro"})


class GrypeAdapter(Adapter):
    name = SOURCE
    label = "Grype"
    severities = SEVERITIES

    @classmethod
    def looks_like_object(cls, document: dict[str, Any]) -> bool:
        return "matches" in document and bool(DOCUMENT_KEYS & document.keys())

    def parse(self, payload: Any, hints: Mapping[str, str]) -> Parsed:
        if not (isinstance(payload, dict) and "matches" in payload and ({"source", "descriptor"} & set(payload))):
            raise self.wrong_payload("Grype JSON output (grype -o json: matches, source, descriptor)", payload)
        source = section(payload, "source", "")
        descriptor = section(payload, "descriptor", "")
        distro = section(payload, "distro", "")
        image, target = _target(source)
        scanned_at = text(descriptor, "timestamp", "descriptor")  # grype ≥ 0.45; older output has none
        shared = compact(
            {
                "source_type": text(source, "type", "source"),
                "target": target,
                "distro": name_and_version(distro),
                "scanner": name_and_version(descriptor),
            }
        )
        parsed = Parsed()
        for path, match in objects(payload, "matches", "", required=True):
            parsed.items.append(_match(match, path, image, target, scanned_at, shared, hints))
        return parsed


def _target(source: dict[str, Any]) -> tuple[ImageRef, str]:
    """The scanned image (when it was one) and the target as the user typed it."""
    target = source.get("target")
    if isinstance(target, str):  # directory and file scans
        return ImageRef(), target.strip('"')
    target = obj(target or {}, "source.target")
    user_input = text(target, "userInput", "source.target")
    tags = [t for t in items(target, "tags", "source.target") if isinstance(t, str) and t]
    digests = [d for d in items(target, "repoDigests", "source.target") if isinstance(d, str) and "@" in d]
    if tags:
        image = parse_image_reference(tags[0])
    elif looks_like_image_reference(user_input):
        image = parse_image_reference(user_input)
    elif digests:
        image = parse_image_reference(digests[0].partition("@")[0])
    else:
        return ImageRef(), user_input
    digest = (
        image.digest or text(target, "manifestDigest", "source.target") or (digest_of(digests[0]) if digests else "")
    )
    return ImageRef(image.registry, image.repository, image.tag, digest), user_input


def _match(
    match: dict, path: str, image: ImageRef, target: str, scanned_at: str, shared: dict, hints: Mapping[str, str]
) -> dict:
    vuln = obj(match.get("vulnerability"), f"{path}.vulnerability")
    v_path = f"{path}.vulnerability"
    artifact = obj(match.get("artifact"), f"{path}.artifact")
    a_path = f"{path}.artifact"
    vuln_id = text(vuln, "id", v_path, required=True)
    package, version = text(artifact, "name", a_path), text(artifact, "version", a_path)
    fix = section(vuln, "fix", v_path)
    fixed = [str(v) for v in items(fix, "versions", f"{v_path}.fix") if v]
    related = [r for r in items(match, "relatedVulnerabilities", path) if isinstance(r, dict)]
    locations = [
        loc.get("path") for loc in items(artifact, "locations", a_path) if isinstance(loc, dict) and loc.get("path")
    ]
    description = text(vuln, "description", v_path) or next(
        (r["description"] for r in related if isinstance(r.get("description"), str) and r["description"]), ""
    )
    return make_event(
        source=SOURCE,
        hints=hints,
        occurred_at=scanned_at or None,
        key=(target, text(artifact, "type", a_path), locations[0] if locations else "", scanned_at),
        type=EventType.VULNERABILITY,
        severity=severity(SEVERITIES, vuln, "severity", v_path),
        title=f"{vuln_id} in {package} {version}".strip(),
        description=description,
        finding_id=vuln_id,
        package=package,
        installed_version=version,
        fixed_version=", ".join(fixed),
        cvss=_cvss(vuln, v_path)
        or next(
            (score for i, r in enumerate(related) if (score := _cvss(r, f"{path}.relatedVulnerabilities[{i}]"))),
            None,
        ),
        details={
            **shared,
            "fix_state": text(fix, "state", f"{v_path}.fix"),
            "namespace": text(vuln, "namespace", v_path),
            "data_source": text(vuln, "dataSource", v_path),
            "urls": items(vuln, "urls", v_path)[:MAX_URLS],
            "related": [r.get("id") for r in related if r.get("id") and r.get("id") != vuln_id],
            "package_type": text(artifact, "type", a_path),
            "purl": text(artifact, "purl", a_path),
            "locations": locations[:10],
            "epss": match.get("epss") or vuln.get("epss"),
            "known_exploited": vuln.get("knownExploited"),
            "risk": vuln.get("risk"),
        },
        **image.fields(),
    )


def _cvss(vuln: dict, path: str) -> float | None:
    """The highest-version base score of ``cvss[]`` (v3.x before v2), or None when there is none."""
    entries = [(str(c.get("version") or ""), c) for c in items(vuln, "cvss", path) if isinstance(c, dict)]
    for _, entry in sorted(entries, key=lambda pair: pair[0], reverse=True):
        metrics = section(entry, "metrics", f"{path}.cvss[]")
        score = cvss_score(number(metrics, "baseScore", f"{path}.cvss[].metrics"))
        if score is not None:
            return score
    return None
