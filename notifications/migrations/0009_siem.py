"""SIEM streams through the outbox: a notification may carry a security event log entry or a batch of events.

``stream`` says what a row carries ("" for a response policy's message, as every row so far); ``audit_entry`` the log
entry of an ``audit`` row. Syslog integrations that existed before this change get the settings of the SIEM output
filled in as they behaved until now (RFC 5424, newline-framed TCP, no TLS) and with both streams off: an upgrade
does not start sending the security event log anywhere until a person turns it on.
"""

import django.db.models.deletion
from django.db import migrations, models

SETTINGS_UNTIL_NOW = {
    "format": "rfc5424",
    "tcp_framing": "newline",
    "tls_verify": True,
    "ca_certificate": "",
    "security_log": False,
    "security_events": False,
}


def fill_syslog_settings(apps, schema_editor):
    Integration = apps.get_model("notifications", "NotificationIntegration")
    for integration in Integration.objects.filter(kind="syslog").order_by("pk"):
        config = {**SETTINGS_UNTIL_NOW, **(integration.config or {})}
        # update(): a data move, not a change that should bump updated_at or reach signal handlers.
        Integration.objects.filter(pk=integration.pk).update(config=config)


class Migration(migrations.Migration):
    dependencies = [
        ("kcs", "0003_worker_heartbeat"),
        ("notifications", "0008_notification_muted"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="audit_entry",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="kcs.auditentry",
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="stream",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Response policy"),
                    ("audit", "SIEM: security event log"),
                    ("events", "SIEM: security events"),
                ],
                default="",
                db_default="",
                max_length=8,
            ),
        ),
        migrations.RunPython(fill_syslog_settings, migrations.RunPython.noop),
    ]
