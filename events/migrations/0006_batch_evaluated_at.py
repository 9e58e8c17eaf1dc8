"""Evaluation is recorded on the batch, not on each event: marking a batch becomes one row instead of rewriting
every event row and all of its indexes. A batch counts as evaluated when none of its events was waiting (evaluation
always takes a batch's events together)."""

from django.db import migrations, models
from django.db.models import Exists, Max, OuterRef


def copy_to_batches(apps, schema_editor):
    EventBatch = apps.get_model("events", "EventBatch")
    SecurityEvent = apps.get_model("events", "SecurityEvent")
    waiting = SecurityEvent.objects.filter(batch=OuterRef("pk"), evaluated_at__isnull=True)
    done = EventBatch.objects.filter(~Exists(waiting))
    latest = SecurityEvent.objects.filter(batch=OuterRef("pk")).values("batch").annotate(at=Max("evaluated_at"))
    done.update(evaluated_at=models.Subquery(latest.values("at")[:1]))


def copy_to_events(apps, schema_editor):
    EventBatch = apps.get_model("events", "EventBatch")
    SecurityEvent = apps.get_model("events", "SecurityEvent")
    SecurityEvent.objects.update(
        evaluated_at=models.Subquery(EventBatch.objects.filter(pk=OuterRef("batch")).values("evaluated_at")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0005_risk_acceptance"),
    ]

    operations = [
        migrations.AddField(
            model_name="eventbatch",
            name="evaluated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(copy_to_batches, copy_to_events, elidable=True),
        migrations.RemoveIndex(
            model_name="securityevent",
            name="event_not_evaluated",
        ),
        migrations.RemoveField(
            model_name="securityevent",
            name="evaluated_at",
        ),
        migrations.AddIndex(
            model_name="eventbatch",
            index=models.Index(
                condition=models.Q(("evaluated_at__isnull", True)), fields=["received_at"], name="batch_not_evaluated"
            ),
        ),
    ]
