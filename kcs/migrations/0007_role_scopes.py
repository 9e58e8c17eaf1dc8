"""Scopes on roles (and a per-person limit). Custom roles made before scopes existed keep seeing everything: they
get the Global scope (which still counts only for members with *view global scope*). System roles cover Global
without a stored row."""

from django.db import migrations, models


def give_custom_roles_global(apps, schema_editor):
    Role = apps.get_model("kcs", "Role")
    Scope = apps.get_model("policies", "Scope")
    global_scope = Scope.objects.filter(is_global=True).first()
    if global_scope is None:
        return
    for role in Role.objects.filter(is_system=False):
        role.scopes.add(global_scope)


class Migration(migrations.Migration):
    dependencies = [
        ("kcs", "0006_system_roles"),
        ("policies", "0004_silences"),
    ]

    operations = [
        migrations.AddField(
            model_name="role",
            name="scopes",
            field=models.ManyToManyField(blank=True, related_name="roles", to="policies.scope"),
        ),
        migrations.AddField(
            model_name="userprofile",
            name="scopes",
            field=models.ManyToManyField(
                blank=True,
                help_text="Limit the person to these scopes of their roles; empty: every scope of their roles.",
                related_name="limited_users",
                to="policies.scope",
            ),
        ),
        migrations.RunPython(give_custom_roles_global, migrations.RunPython.noop),
    ]
