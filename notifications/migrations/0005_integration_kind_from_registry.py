"""The integration kind without a frozen list of choices: the channel registry is the one list of kinds, so adding
a kind needs no migration. No database change (choices live only in Python)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    # Follows 0004_notification_trigger once that is merged (the lead renumbers/relinks this dependency).
    dependencies = [
        ("notifications", "0004_notification_trigger"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notificationintegration",
            name="kind",
            field=models.CharField(max_length=16),
        ),
    ]
