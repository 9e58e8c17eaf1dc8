from datetime import timedelta

from django.db import migrations, models
from django.db.models import F


def lease_rows_in_flight(apps, schema_editor):
    """Rows in sending during the upgrade keep the guarantee they were claimed under: taken over 150 s after."""
    Notification = apps.get_model("notifications", "Notification")
    Notification.objects.filter(status="sending", claimed_at__isnull=False).update(
        claimed_until=F("claimed_at") + timedelta(seconds=150)
    )


class Migration(migrations.Migration):
    dependencies = [("notifications", "0006_webhook_url_credentials")]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(lease_rows_in_flight, migrations.RunPython.noop),
    ]
