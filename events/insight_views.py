"""Screens of Investigation → Vulnerabilities and Resources → Images (and one image's open findings).

They read the read models of :mod:`events.insight` through :mod:`events.insight_queries`; a bad filter value is
a 400 naming the field, shown on the page with nothing listed. They show the images in the person's active scopes
and the findings open in them; an image outside is a 404.
"""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views import View

from events import insight_queries as queries
from events.models import EventType, Finding, Image, OpenFinding, Severity
from kcs.visibility import visibility_of

PAGE_SIZE = 50
FINDINGS_PAGE_SIZE = 100
TYPE_LABELS = dict(EventType.choices)


def sort_links(request, names: list[str]) -> dict[str, dict[str, str]]:
    """For each sortable column: the query string that sorts by it (descending first, then flipping) and the
    current direction (``asc``/``desc``/"")."""
    current = request.GET.get("ordering", "")
    links = {}
    for name in names:
        params = request.GET.copy()
        params.pop("page", None)
        params["ordering"] = name if current == f"-{name}" else f"-{name}"
        direction = "desc" if current == f"-{name}" else "asc" if current == name else ""
        links[name] = {"query": params.urlencode(), "direction": direction}
    return links


def _page(request, queryset, size: int):
    page = Paginator(queryset, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


class InsightAccessMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Views over security events: whoever may view events may view them."""

    permission_required = "events.view_securityevent"


class VulnerabilityListView(InsightAccessMixin, View):
    def get(self, request):
        form = queries.VulnerabilityFilterForm(request.GET)
        valid = form.is_valid()
        visibility = visibility_of(request)
        rows = queries.vulnerabilities(form.chosen(), visibility) if valid else Finding.objects.none()
        page, query = _page(request, rows, PAGE_SIZE)
        items = queries.with_packages(list(page.object_list), form.chosen(), visibility) if valid else []
        queries.with_acceptances(items, visibility)
        for item in items:
            item["type_label"] = TYPE_LABELS.get(item["type"], item["type"])
            item["severity_label"] = Severity(item["severity"]).label
        return render(
            request,
            "events/vulnerability_list.html",
            {
                "form": form,
                "page_obj": page,
                "rows": items,
                "query": query,
                "filtered": any(value for key, value in request.GET.items() if key not in ("page", "ordering")),
                "sort": sort_links(
                    request, ["finding_id", "severity", "cvss", "images", "workloads", "first_seen", "last_seen"]
                ),
            },
            status=200 if valid else 400,
        )


class ImageListView(InsightAccessMixin, View):
    def get(self, request):
        form = queries.ImageFilterForm(request.GET)
        valid = form.is_valid()
        images = queries.images(form.chosen(), visibility_of(request)) if valid else Image.objects.none()
        page, query = _page(request, images, PAGE_SIZE)
        return render(
            request,
            "events/image_list.html",
            {
                "form": form,
                "page_obj": page,
                "images": page.object_list,
                "query": query,
                "severities": queries.SEVERITY_FIELDS,
                "filtered": any(value for key, value in request.GET.items() if key not in ("page", "ordering")),
                "sort": sort_links(request, ["image", "rating", *queries.SEVERITY_FIELDS, "last_scanned"]),
            },
            status=200 if valid else 400,
        )


class ImageDetailView(InsightAccessMixin, View):
    def get(self, request, pk: int):
        image = get_object_or_404(
            queries.visible_images(visibility_of(request)).filter(last_scanned__isnull=False), pk=pk
        )
        form = queries.ImageFindingFilterForm(request.GET)
        valid = form.is_valid()
        findings = queries.image_findings(image, form.chosen()) if valid else OpenFinding.objects.none()
        page, query = _page(request, findings, FINDINGS_PAGE_SIZE)
        rows = list(page.object_list)
        for row in rows:
            row["type_label"] = TYPE_LABELS.get(row["type"], row["type"])
            row["severity_slug"] = Severity(row["severity"]).slug
            row["severity_label"] = Severity(row["severity"]).label
        return render(
            request,
            "events/image_detail.html",
            {
                "image": image,
                "form": form,
                "page_obj": page,
                "rows": rows,
                "query": query,
                "counts": image.counts(),
                "clusters": sorted(c.cluster for c in image.clusters.all()),
                "filtered": any(value for key, value in request.GET.items() if key != "page"),
            },
            status=200 if valid else 400,
        )
