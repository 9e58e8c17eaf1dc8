"""Notification keeps no index that no query needs: each is written for every row evaluation makes (hundreds per
batch). Status is served by (status, next_attempt_at); the idempotency key and muted_by lose their LIKE indexes;
muted_by and audit_entry are indexed only where a query looks (muted rows, rows with a log entry)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0007_insight"),
        ("kcs", "0007_role_scopes"),
        ("notifications", "0009_siem"),
        ("policies", "0004_silences"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="audit_entry",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="kcs.auditentry",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="idempotency_key",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="notification",
            name="muted_by",
            field=models.CharField(blank=True, db_default="", default="", max_length=40),
        ),
        migrations.AlterField(
            model_name="notification",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Sending"),
                    ("sent", "Sent"),
                    ("failed", "Failed"),
                    ("suppressed", "Suppressed"),
                    ("muted", "Muted"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("status", "muted")), fields=["muted_by"], name="notification_muted_by"
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("audit_entry__isnull", False)),
                fields=["audit_entry"],
                name="notification_audit_entry",
            ),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.UniqueConstraint(fields=("idempotency_key",), name="notification_idempotency_key"),
        ),
    ]
