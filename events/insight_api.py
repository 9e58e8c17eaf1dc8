"""REST API of the Vulnerabilities and Images lists: ``/api/v1/vulnerabilities/`` and ``/api/v1/images/``.

Read-only, paginated, filtered by the same forms as the screens (:mod:`events.insight_queries`); a bad filter
value is a 400 naming the parameter. Reading needs the right to view security events; both follow the caller's
active scopes (``?scope=<id>`` selects one), so an image or finding outside them is a 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from events import insight_queries as queries
from events.models import Severity
from kcs.visibility import visibility_of

SEVERITY_SLUGS = Severity.slugs()


class CanViewEvents(permissions.BasePermission):
    """Signed-in users with *Can view security event*: these lists are views over events."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("events.view_securityevent"))


class ListPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class VulnerabilitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    finding_id = serializers.CharField()
    type = serializers.CharField()
    severity = serializers.ChoiceField(choices=SEVERITY_SLUGS, source="severity_slug")
    cvss = serializers.FloatField(allow_null=True)
    packages = serializers.ListField(child=serializers.CharField())
    fixed_versions = serializers.ListField(child=serializers.CharField(), help_text="Empty: no fix")
    images = serializers.IntegerField(help_text="Images where it is open")
    workloads = serializers.IntegerField(help_text="Distinct cluster/namespace/workload of those open findings")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    accepted = serializers.BooleanField(
        help_text="An active risk acceptance (not cancelled, not expired) exists for this type and finding ID"
    )


class ImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    image = serializers.CharField(source="reference", help_text="registry/repository:tag@digest")
    registry = serializers.CharField()
    repository = serializers.CharField()
    tag = serializers.CharField()
    digest = serializers.CharField()
    rating = serializers.ChoiceField(
        choices=[*SEVERITY_SLUGS, "ok"], source="rating_slug", help_text="Highest open severity, or ok"
    )
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Open findings per severity")
    last_scanned = serializers.DateTimeField()
    clusters = serializers.SerializerMethodField()

    def get_clusters(self, image) -> list[str]:
        return sorted(c.cluster for c in image.clusters.all())

    def to_representation(self, image):
        data = super().to_representation(image)
        data["counts"] = image.counts()
        return data


def _parameters(form_class) -> list[OpenApiParameter]:
    """The form's fields as documented query parameters (enums for choices)."""
    parameters = []
    for name, field in form_class.base_fields.items():
        choices = [value for value, _ in getattr(field, "choices", []) if value != ""]
        parameters.append(
            OpenApiParameter(name, OpenApiTypes.STR, description=str(field.label or name), enum=choices or None)
        )
    return parameters


class _FormListViewSet(viewsets.GenericViewSet):
    permission_classes = [CanViewEvents]
    pagination_class = ListPagination
    filter_backends: list = []
    form_class: type = queries.ListForm

    def chosen(self) -> dict:
        form = self.form_class(self.request.query_params)
        if not form.is_valid():
            raise ValidationError({name: [str(e) for e in errors] for name, errors in form.errors.items()})
        return form.chosen()


class VulnerabilityViewSet(_FormListViewSet):
    """Findings open in at least one image, one row per finding ID, worst first (``ordering`` to change it)."""

    serializer_class = VulnerabilitySerializer
    form_class = queries.VulnerabilityFilterForm

    def get_queryset(self):
        return queries.vulnerabilities(self.chosen(), visibility_of(self.request))

    def retrieve(self, request, pk=None):
        """One finding ID by its ``id`` (404 when it is open in no image the caller sees)."""
        visibility = visibility_of(request)
        row = get_object_or_404(queries.vulnerabilities({}, visibility), id=pk)
        row = queries.with_acceptances(queries.with_packages([row], {}, visibility), visibility)[0]
        return Response(self.get_serializer(row).data)

    @extend_schema(parameters=_parameters(queries.VulnerabilityFilterForm))
    def list(self, request, *args, **kwargs):
        chosen = self.chosen()
        visibility = visibility_of(request)
        page = self.paginate_queryset(queries.vulnerabilities(chosen, visibility))
        rows = queries.with_acceptances(queries.with_packages(list(page), chosen, visibility), visibility)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


class ImageViewSet(_FormListViewSet):
    """Scanned images, worst rating first (``ordering`` to change it)."""

    serializer_class = ImageSerializer
    form_class = queries.ImageFilterForm

    def get_queryset(self):
        return queries.images(self.chosen(), visibility_of(self.request))

    def retrieve(self, request, pk=None):
        """One scanned image by its ``id``; ``/images/<id>/`` on the screens lists its open findings."""
        return Response(self.get_serializer(get_object_or_404(queries.images({}, visibility_of(request)), pk=pk)).data)

    @extend_schema(parameters=_parameters(queries.ImageFilterForm))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def register(router) -> None:
    router.register("vulnerabilities", VulnerabilityViewSet, basename="vulnerability")
    router.register("images", ImageViewSet, basename="image")
