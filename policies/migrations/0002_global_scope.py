"""Create the built-in Global scope, which covers every resource."""

from django.db import migrations


def create_global_scope(apps, schema_editor):
    Scope = apps.get_model("policies", "Scope")
    Scope.objects.get_or_create(
        is_global=True, defaults={"name": "Global", "description": "Every resource (built in; cannot be changed)."}
    )


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]
    operations = [migrations.RunPython(create_global_scope, migrations.RunPython.noop)]
