"""Silences (time-boxed mutes of matching events), and the rights on them: Security officer views and manages
them, Auditor views them."""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

GRANTS = {
    "Security officer": ["view_silence", "manage_silence"],
    "Auditor": ["view_silence"],
}


def grant_silence_rights(apps, schema_editor):
    """Give the seeded groups their rights on silences (permissions are created first, as in 0003)."""
    app_config = apps.get_app_config("policies")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for codename in codenames:
            group.permissions.add(Permission.objects.get(content_type__app_label="policies", codename=codename))


def revoke_silence_rights(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="policies", codename__in=GRANTS[group.name])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0003_seed_groups"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Silence",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("matchers", models.JSONField(default=dict)),
                (
                    "policies",
                    models.JSONField(blank=True, default=list, help_text="Response policy ids; empty: every policy"),
                ),
                ("starts_at", models.DateTimeField()),
                ("ends_at", models.DateTimeField()),
                ("comment", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expired_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "replaces",
                    models.OneToOneField(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="replaced_by",
                        to="policies.silence",
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "permissions": [("manage_silence", "Can manage silences")],
                "indexes": [models.Index(fields=["ends_at"], name="policies_si_ends_at_0d4ec5_idx")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("ends_at__gte", models.F("starts_at"))), name="silence_ends_after"
                    )
                ],
            },
        ),
        migrations.RunPython(grant_silence_rights, revoke_silence_rights),
    ]
