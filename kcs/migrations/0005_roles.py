"""Roles (a group plus its role ID and description), user profiles (display name, forced password change), the
product's own rights, and user names of up to 254 characters."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


USERNAME_LENGTH = 254


def _alter_username(schema_editor, length: int) -> None:
    # SQLite does not enforce varchar lengths; PostgreSQL does. Widening keeps the column's indexes.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE auth_user ALTER COLUMN username TYPE varchar({length})")


def widen_username(apps, schema_editor):
    _alter_username(schema_editor, USERNAME_LENGTH)


def narrow_username(apps, schema_editor):
    _alter_username(schema_editor, 150)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("kcs", "0004_audit_categories"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # User names of up to 254 characters (an email address fits); Django's column holds 150.
        migrations.RunPython(widen_username, narrow_username),
        migrations.CreateModel(
            name="Right",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ],
            options={
                "permissions": [
                    ("manage_scope", "Can manage scopes"),
                    ("view_global_scope", "Can view the Global scope"),
                    ("manage_global_scope", "Can manage the Global scope"),
                    ("manage_integration", "Can manage integrations"),
                    ("view_access", "Can view users and roles"),
                    ("manage_access", "Can manage users and roles"),
                    ("manage_own_tokens", "Can manage own API tokens"),
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
        migrations.CreateModel(
            name="Role",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("role_id", models.CharField(max_length=32, unique=True, verbose_name="role ID")),
                ("description", models.TextField(blank=True)),
                ("is_system", models.BooleanField(default=False, editable=False)),
                (
                    "group",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="role", to="auth.group"
                    ),
                ),
            ],
            options={
                "ordering": ["group__name"],
            },
        ),
        migrations.CreateModel(
            name="UserProfile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("display_name", models.CharField(blank=True, max_length=150)),
                (
                    "must_change_password",
                    models.BooleanField(
                        default=False,
                        help_text="The person can do nothing else after signing in until they set a new password.",
                    ),
                ),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="profile", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
    ]
