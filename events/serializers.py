"""JSON shape of a stored security event (read side; writes are validated in events/validation.py), and the
documentation of what an event POST takes."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events import validation
from events.models import SEVERITY_SLUG_BY_VALUE, EventType, SecurityEvent, Severity


class SecurityEventSerializer(serializers.ModelSerializer):
    severity = serializers.SerializerMethodField()
    details = serializers.JSONField(read_only=True)
    batch = serializers.UUIDField(source="batch_id", read_only=True)
    evaluated_at = serializers.DateTimeField(source="batch.evaluated_at", read_only=True, allow_null=True)

    class Meta:
        model = SecurityEvent
        fields = [
            "id",
            "type",
            "severity",
            "title",
            "description",
            "source",
            "uid",
            "registry",
            "repository",
            "tag",
            "digest",
            "cluster",
            "namespace",
            "pod",
            "container",
            "node",
            "finding_id",
            "package",
            "installed_version",
            "fixed_version",
            "cvss",
            "details",
            "fingerprint",
            "batch",
            "occurred_at",
            "received_at",
            "evaluated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "enum": Severity.slugs()})
    def get_severity(self, event: SecurityEvent) -> str:
        return SEVERITY_SLUG_BY_VALUE[event.severity]


class IngestResultSerializer(serializers.Serializer):
    """Documentation of the answer to an event POST (for the OpenAPI schema)."""

    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    batch = serializers.UUIDField(allow_null=True)
    ids = serializers.ListField(child=serializers.IntegerField())
    duplicate_indexes = serializers.ListField(child=serializers.IntegerField())


def _optional_text(limit: int) -> serializers.CharField:
    return serializers.CharField(max_length=limit, required=False, allow_blank=True, allow_null=True)


class SecurityEventInputSerializer(serializers.Serializer):
    """One event as ``POST /api/v1/events/`` takes it (for the OpenAPI schema: :mod:`events.validation` checks it).

    Missing or null optional text is stored as ""; a missing ``source`` is ``api``, a missing ``occurred_at`` the
    time it was received. Other keys are ignored."""

    type = serializers.ChoiceField(choices=EventType.choices)
    severity = serializers.ChoiceField(choices=Severity.slugs(), help_text="Lower-case slug; any case is accepted")
    title = serializers.CharField(max_length=validation.TITLE_MAX)
    description = _optional_text(validation.DESCRIPTION_MAX)
    registry = _optional_text(validation.TEXT_FIELDS["registry"])
    repository = _optional_text(validation.TEXT_FIELDS["repository"])
    tag = _optional_text(validation.TEXT_FIELDS["tag"])
    digest = _optional_text(validation.TEXT_FIELDS["digest"])
    cluster = _optional_text(validation.TEXT_FIELDS["cluster"])
    namespace = _optional_text(validation.TEXT_FIELDS["namespace"])
    pod = _optional_text(validation.TEXT_FIELDS["pod"])
    container = _optional_text(validation.TEXT_FIELDS["container"])
    node = _optional_text(validation.TEXT_FIELDS["node"])
    finding_id = _optional_text(validation.TEXT_FIELDS["finding_id"])
    package = _optional_text(validation.TEXT_FIELDS["package"])
    installed_version = _optional_text(validation.TEXT_FIELDS["installed_version"])
    fixed_version = _optional_text(validation.TEXT_FIELDS["fixed_version"])
    source = serializers.RegexField(
        validation.SOURCE_RE.pattern,
        max_length=validation.SOURCE_MAX,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The tool that found it (lower-case slug); default api",
    )
    uid = _optional_text(validation.UID_MAX)
    uid.help_text = "Optional idempotency key: an event with a uid already stored (by this account) is not stored again"
    cvss = serializers.FloatField(min_value=0, max_value=10, required=False, allow_null=True)
    details = serializers.DictField(required=False, allow_null=True, help_text="The source's own fields")
    occurred_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="ISO 8601; years 1970 to 9000; default: when it was received"
    )
