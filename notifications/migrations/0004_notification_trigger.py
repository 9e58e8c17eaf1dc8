"""Notifications carry the trigger that caused them (slug and label), so delivery never reads policies."""

from django.db import migrations, models

# Frozen copy of the trigger labels at the time of this migration (a migration must not import app code).
TRIGGER_LABELS = {
    "sensitive_data": "Sensitive data",
    "non_compliant": "Non-compliant",
    "critical_vulnerabilities": "Critical vulnerabilities",
    "malware": "Malware",
    "risk_acceptance_expiration": "Risk acceptance expiration",
    "misconfigurations": "Misconfigurations",
    "runtime_threats": "Runtime threats",
}


def copy_triggers(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    ResponsePolicy = apps.get_model("policies", "ResponsePolicy")
    for policy_id, trigger in ResponsePolicy.objects.values_list("id", "trigger"):
        Notification.objects.filter(policy_id=policy_id).update(
            trigger=trigger, trigger_label=TRIGGER_LABELS.get(trigger, trigger)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_delivery_pipeline"),
        ("policies", "0002_global_scope"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="trigger",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="notification",
            name="trigger_label",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.RunPython(copy_triggers, migrations.RunPython.noop),
    ]
