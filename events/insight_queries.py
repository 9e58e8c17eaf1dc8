"""Reading the Images and Vulnerabilities lists: their filters (one form each, shared by the screens and the API)
and the querysets they select. What "open" means is in :mod:`events.insight`.

Both follow the reader's active scopes (:mod:`kcs.visibility`): an image is in a scope by its registry, repository
and the clusters it was seen in (images have no namespace: a scope's namespaces do not narrow them); a finding is
listed when it is open in an image the reader sees, counted over those images only.
"""

from __future__ import annotations

from django import forms
from django.db import connection
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from events.acceptance_filters import visible_acceptances
from events.models import (
    SCAN_TYPES,
    AcceptanceState,
    EventType,
    Extent,
    Finding,
    Image,
    ImageCluster,
    OpenFinding,
    RiskAcceptance,
    Severity,
)
from kcs.globs import GLOB_CHARS, glob_to_regex
from kcs.visibility import Visibility

# Where an image keeps the attributes a scope constrains (visibility.resource_q's fields).
IMAGE_FIELDS = {"registry": "registry", "repository": "repository", "cluster": "clusters__cluster"}

SEVERITY_CHOICES = [(s.slug, s.label) for s in reversed(Severity)]
RATING_CHOICES = [*SEVERITY_CHOICES, ("ok", "Ok")]
TYPE_CHOICES = [(t.value, t.label) for t in EventType if t in SCAN_TYPES]
FIX_CHOICES = [("available", "Fix available"), ("none", "No fix")]
ACCEPTED_CHOICES = [("true", "Accepted"), ("false", "Not accepted")]
TEXT = {"required": False, "max_length": 255, "strip": True}


def _sorts(*names: str) -> list[tuple[str, str]]:
    return [choice for name in names for choice in ((name, f"{name} ↑"), (f"-{name}", f"{name} ↓"))]


def _name_filter(field: str, value: str) -> Q:
    """``field`` equal to ``value``, or matching it as a glob (``shop/*``)."""
    if GLOB_CHARS & set(value):
        regex = glob_to_regex(value, connection.vendor)
        return Q(**{f"{field}__regex": regex}) if regex is not None else Q(pk__in=[])
    return Q(**{field: value})


class ListForm(forms.Form):
    """Shared parts: a GET form whose empty fields mean "any"; ``clean`` keeps only what was given."""

    def chosen(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}


# --- vulnerabilities ---------------------------------------------------------------------------------------------


class VulnerabilityFilterForm(ListForm):
    search = forms.CharField(label="Finding ID or package contains", **TEXT)
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *TYPE_CHOICES])
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), *SEVERITY_CHOICES])
    min_severity = forms.ChoiceField(
        required=False, label="Minimum severity", choices=[("", "Any severity"), *SEVERITY_CHOICES]
    )
    fix = forms.ChoiceField(required=False, label="Fix", choices=[("", "Fixed or not"), *FIX_CHOICES])
    accepted = forms.ChoiceField(
        required=False, label="Risk accepted", choices=[("", "Accepted or not"), *ACCEPTED_CHOICES]
    )
    registry = forms.CharField(label="Registry", **TEXT)
    repository = forms.CharField(label="Repository (exact or glob)", **TEXT)
    cluster = forms.CharField(label="Cluster", **TEXT)
    ordering = forms.ChoiceField(
        required=False,
        choices=_sorts("finding_id", "severity", "cvss", "images", "workloads", "first_seen", "last_seen"),
    )


DEFAULT_VULNERABILITY_ORDER = ["-severity", "-cvss", "-images", "finding_id"]
IMAGE_FILTERS = ("registry", "repository", "cluster")
# Aggregates over the open occurrences the image filters select (named apart from Finding's summary columns).
NARROWED = {
    "severity": Max("open_findings__severity"),
    "cvss": Max("open_findings__cvss"),
    "images": Count("open_findings__image", distinct=True),
    "workloads": Count("open_findings__workload", distinct=True),
    "has_fix": Max("open_findings__fixed_version"),  # "" when none has a fix
}


def visible_images(visibility: Visibility | None) -> QuerySet:
    """The images in ``visibility``'s active scopes (every image when it is unrestricted, or None: code acting for
    nobody in particular). Every function here that lists takes the reader's visibility."""
    in_scope = Q() if visibility is None else visibility.resource_q(IMAGE_FIELDS)
    if not in_scope:  # unrestricted, or scopes that constrain no image attribute (namespaces only)
        return Image.objects.all()
    # Through a subquery: a scope on clusters joins the image's clusters, which would repeat an image seen in two.
    return Image.objects.filter(pk__in=Image.objects.filter(in_scope).values("pk"))


def _restricted(visibility: Visibility | None) -> bool:
    return visibility is not None and not visibility.unrestricted


def open_rows(chosen: dict, prefix: str = "", visibility: Visibility | None = None) -> Q:
    """The open findings the image filters of ``chosen`` select, in images ``visibility`` shows (``prefix``: the
    path to them)."""
    rows = Q()
    if _restricted(visibility):
        rows &= Q(**{f"{prefix}image__in": visible_images(visibility).values("pk")})
    if registry := chosen.get("registry"):
        rows &= Q(**{f"{prefix}image__registry": registry})
    if repository := chosen.get("repository"):
        rows &= _name_filter(f"{prefix}image__repository", repository)
    if cluster := chosen.get("cluster"):
        rows &= Q(**{f"{prefix}image__clusters__cluster": cluster})
    return rows


def vulnerabilities(chosen: dict, visibility: Visibility | None) -> QuerySet:
    """One row (a dict) per finding ID open in at least one image ``visibility`` shows: ``id, finding_id, type,
    first_seen, last_seen, severity`` (value), ``cvss, images, workloads``.

    Without image filters or scopes the rows are the findings' summary columns (kept by events.insight); with them
    the counts are taken over the open occurrences in the selected images only."""
    fields = ["id", "finding_id", "type", "first_seen", "last_seen"]
    narrowed = any(chosen.get(name) for name in IMAGE_FILTERS) or _restricted(visibility)
    if narrowed:
        queryset = (
            Finding.objects.filter(open_rows(chosen, "open_findings__", visibility))
            .values(*fields)
            .annotate(**{f"open_{name}": aggregate for name, aggregate in NARROWED.items()})
        )
        names = {name: f"open_{name}" for name in NARROWED}
        queryset = queryset.filter(open_images__gt=0)
    else:
        queryset = Finding.objects.filter(images__gt=0).values(*fields, *NARROWED)
        names = {name: name for name in NARROWED}
    if search := chosen.get("search"):
        queryset = queryset.filter(
            Q(finding_id__icontains=search)
            | Q(pk__in=OpenFinding.objects.filter(package__icontains=search).values("finding_id"))
        )
    if kind := chosen.get("type"):
        queryset = queryset.filter(type=kind)
    if severity := chosen.get("severity"):
        queryset = queryset.filter(**{names["severity"]: Severity.from_slug(severity)})
    if minimum := chosen.get("min_severity"):
        queryset = queryset.filter(**{f"{names['severity']}__gte": Severity.from_slug(minimum)})
    if fix := chosen.get("fix"):
        if narrowed:
            has_fix = ~Q(open_has_fix="")
        else:
            has_fix = Q(has_fix=True)
        queryset = queryset.filter(has_fix if fix == "available" else ~has_fix)
    if accepted := chosen.get("accepted"):
        accepted_here = Exists(
            active_acceptances(visibility=visibility).filter(type=OuterRef("type"), finding_id=OuterRef("finding_id"))
        )
        queryset = queryset.filter(accepted_here if accepted == "true" else ~accepted_here)
    ordering = chosen.get("ordering")
    order = [ordering] if ordering else DEFAULT_VULNERABILITY_ORDER
    renamed = [f"{'-' if o.startswith('-') else ''}{names.get(o.lstrip('-'), o.lstrip('-'))}" for o in order]
    return queryset.order_by(*(term for o in renamed for term in _order(o)), "finding_id")


def _order(ordering: str) -> list:
    """``name`` or ``-name`` as an ordering with empty values first going up and last going down, on every
    database."""
    column = F(ordering.lstrip("-"))
    return [column.desc(nulls_last=True) if ordering.startswith("-") else column.asc(nulls_first=True)]


def with_packages(rows: list[dict], chosen: dict, visibility: Visibility | None) -> list[dict]:
    """Add ``packages`` and ``fixed_versions`` (sorted, distinct, over the open occurrences ``chosen`` selects in
    the images ``visibility`` shows) to each row."""
    packages: dict[int, set[str]] = {row["id"]: set() for row in rows}
    fixes: dict[int, set[str]] = {row["id"]: set() for row in rows}
    found = OpenFinding.objects.filter(open_rows(chosen, visibility=visibility), finding_id__in=list(packages))
    found = found.values_list("finding_id", "package", "fixed_version")
    for finding, package, fixed in found.distinct():
        if package:
            packages[finding].add(package)
        if fixed:
            fixes[finding].add(fixed)
    for row in rows:
        for name in NARROWED:  # the narrowed counts under the usual names
            if f"open_{name}" in row:
                row[name] = row.pop(f"open_{name}")
        row["packages"] = sorted(packages[row["id"]])
        row["fixed_versions"] = sorted(fixes[row["id"]])
        row["severity_slug"] = Severity(row["severity"]).slug
    return rows


def active_acceptances(now=None, visibility: Visibility | None = None) -> QuerySet:
    """Risk acceptances active at ``now`` (default: now) that ``visibility`` shows: neither cancelled nor expired,
    as the Risk acceptance list's ``state=active`` means it."""
    return visible_acceptances(visibility).in_state(AcceptanceState.ACTIVE, now or timezone.now())


def _acceptance_extent(acceptance: RiskAcceptance) -> str:
    if acceptance.extent == Extent.ALL:
        return "every image"
    kind = "repository" if acceptance.extent == Extent.REPOSITORY else "image"
    return f"{kind} {acceptance.image_reference}"


def with_acceptances(rows: list[dict], visibility: Visibility | None, now=None) -> list[dict]:
    """Add ``accepted`` (an active risk acceptance ``visibility`` shows exists for the row's type and finding ID)
    and ``acceptance_extent`` (its extent, "N acceptances" for several, "" for none) to each row, in one query."""
    found: dict[tuple[str, str], list[RiskAcceptance]] = {}
    if rows:
        acceptances = active_acceptances(now, visibility).filter(finding_id__in={row["finding_id"] for row in rows})
        for acceptance in acceptances.order_by("pk"):
            found.setdefault((acceptance.type, acceptance.finding_id), []).append(acceptance)
    for row in rows:
        active = found.get((row["type"], row["finding_id"]), [])
        row["accepted"] = bool(active)
        row["acceptance_extent"] = (
            _acceptance_extent(active[0]) if len(active) == 1 else f"{len(active)} acceptances" if active else ""
        )
    return rows


# --- images ----------------------------------------------------------------------------------------------------------


class ImageFilterForm(ListForm):
    search = forms.CharField(label="Image contains", **TEXT)
    rating = forms.ChoiceField(required=False, choices=[("", "Any rating"), *RATING_CHOICES])
    min_rating = forms.ChoiceField(
        required=False, label="Rating at least", choices=[("", "Any rating"), *SEVERITY_CHOICES]
    )
    registry = forms.CharField(label="Registry", **TEXT)
    repository = forms.CharField(label="Repository (exact or glob)", **TEXT)
    cluster = forms.CharField(label="Cluster", **TEXT)
    finding_id = forms.CharField(label="Open finding (CVE, rule…)", **TEXT)
    ordering = forms.ChoiceField(
        required=False,
        choices=_sorts("image", "rating", *(s.slug for s in reversed(Severity)), "last_scanned"),
    )


SEVERITY_FIELDS = [s.slug for s in reversed(Severity)]
DEFAULT_IMAGE_ORDER = [F("rating").desc(nulls_last=True), *(f"-{name}" for name in SEVERITY_FIELDS), "pk"]


def images(chosen: dict, visibility: Visibility | None) -> QuerySet:
    """Scanned images (see events.insight) matching ``chosen`` that ``visibility`` shows, their clusters
    prefetched."""
    queryset = visible_images(visibility).filter(last_scanned__isnull=False).prefetch_related("clusters")
    if search := chosen.get("search"):
        queryset = queryset.filter(
            Q(registry__icontains=search)
            | Q(repository__icontains=search)
            | Q(tag__icontains=search)
            | Q(digest__icontains=search)
        )
    if rating := chosen.get("rating"):
        queryset = queryset.filter(rating=None if rating == "ok" else Severity.from_slug(rating))
    if minimum := chosen.get("min_rating"):
        queryset = queryset.filter(rating__gte=Severity.from_slug(minimum))
    if registry := chosen.get("registry"):
        queryset = queryset.filter(registry=registry)
    if repository := chosen.get("repository"):
        queryset = queryset.filter(_name_filter("repository", repository))
    if cluster := chosen.get("cluster"):
        queryset = queryset.filter(Exists(ImageCluster.objects.filter(image=OuterRef("pk"), cluster=cluster)))
    if finding_id := chosen.get("finding_id"):
        queryset = queryset.filter(
            Exists(OpenFinding.objects.filter(image=OuterRef("pk"), finding__finding_id=finding_id))
        )
    ordering = chosen.get("ordering")
    if not ordering:
        return queryset.order_by(*DEFAULT_IMAGE_ORDER)
    descending, name = ordering.startswith("-"), ordering.lstrip("-")
    if name == "image":
        fields = ["registry", "repository", "tag", "digest"]
        return queryset.order_by(*(f"-{f}" if descending else f for f in fields), "pk")
    return queryset.order_by(*_order(ordering), "pk")


class ImageFindingFilterForm(ListForm):
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), *SEVERITY_CHOICES])
    min_severity = forms.ChoiceField(
        required=False, label="Minimum severity", choices=[("", "Any severity"), *SEVERITY_CHOICES]
    )


def image_findings(image: Image, chosen: dict) -> QuerySet:
    """The open findings of ``image``, one row (a dict) per type, finding and package, as the image's counts count
    them: ``type, key, package, severity`` (the highest), ``cvss, installed, fixed, event`` (one event reporting
    it), ``workloads``."""
    queryset = (
        OpenFinding.objects.filter(image=image)
        .values("type", "key", "package")
        .annotate(
            severity=Max("severity"),
            cvss=Max("cvss"),
            installed=Max("installed_version"),
            fixed=Max("fixed_version"),
            event=Min("event_id"),
            workloads=Count("workload", distinct=True),
        )
    )
    if severity := chosen.get("severity"):
        queryset = queryset.filter(severity=Severity.from_slug(severity))
    if minimum := chosen.get("min_severity"):
        queryset = queryset.filter(severity__gte=Severity.from_slug(minimum))
    return queryset.order_by("-severity", F("cvss").desc(nulls_last=True), "key", "package")
