"""JSON shape of a stored security event (read side; writes are validated in events/validation.py)."""

from rest_framework import serializers

from events.models import SEVERITY_SLUG_BY_VALUE, SecurityEvent


class SecurityEventSerializer(serializers.ModelSerializer):
    severity = serializers.SerializerMethodField()
    batch = serializers.UUIDField(source="batch_id", read_only=True)

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
